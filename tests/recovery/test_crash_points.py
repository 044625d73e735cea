"""Crash the atomic epoch write after each of its steps; start-up then gives what ZooKeeper gives.

`EpochWrite.steps` performs `AtomicFileWritingIdiom`'s steps one at a time; the crash model of
`MemoryFileSystem.crash()` drops what was not fsynced (a tmp file written but not synced is empty).
The expected outcome is stated here directly from semantics.md §2.1 (loadDataBase) and §2.3: the old value,
the new value, the `currentEpoch.tmp` adoption, or ZooKeeper's refusal with its message — never anything else.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from zkfle.checker.testing.datadirs import write_data_dir
from zkfle.impl.persistence.epochfiles import EpochWrite
from zkfle.impl.persistence.fs import MemoryFileSystem
from zkfle.impl.recovery import DatabaseLoaded, DatabaseRefused, load_database
from zkfle.spec.zxid import epoch_of

SNAP = "/d/version-2"


def expected(log_epoch: int, current: int, accepted: int, tmp: bytes | None, zxid: int) -> tuple[int, int] | str:
    """loadDataBase by its rules: (current, accepted) in force, or the refusal message."""
    if log_epoch > current:
        if tmp is None:
            return f"The current epoch, {current:x}, is older than the last zxid, {zxid}"
        if not tmp:
            return f"Found null in {SNAP}/currentEpoch.tmp"
        current = int(tmp)  # adopted without a check of its value (ZOOKEEPER-4269 as in 3.8)
    if accepted < current:
        return f"The accepted epoch, {accepted:x} is less than the current epoch, {current:x}"
    return current, accepted


@settings(max_examples=300, deadline=None)
@given(
    log_epoch=st.integers(1, 3),
    current_lag=st.integers(-1, 1),
    accepted_lead=st.integers(0, 2),
    target=st.sampled_from(["currentEpoch", "acceptedEpoch"]),
    bump=st.integers(0, 2),
    crash_after=st.integers(0, 3),
)
def test_crash_after_every_step_of_an_epoch_write(
    *, log_epoch: int, current_lag: int, accepted_lead: int, target: str, bump: int, crash_after: int
) -> None:
    fs = MemoryFileSystem()
    current0 = log_epoch + current_lag  # -1: the disk already holds txns of an epoch newer than currentEpoch
    accepted0 = current0 + accepted_lead
    written = write_data_dir(
        fs, "/d", txns_per_epoch=(3,) * log_epoch, current_epoch=current0, accepted_epoch=accepted0
    )
    old = current0 if target == "currentEpoch" else accepted0
    steps = EpochWrite(f"{SNAP}/{target}", old + bump).steps(fs)
    for _ in range(crash_after):
        next(steps)
    fs.crash()

    current = int(fs.read_bytes(f"{SNAP}/currentEpoch"))
    accepted = int(fs.read_bytes(f"{SNAP}/acceptedEpoch"))
    assert {current, accepted} <= {current0, accepted0, old + bump}  # each file is whole: old or new, never torn
    tmp_path = f"{SNAP}/{target}.tmp"
    tmp = fs.read_bytes(tmp_path) if fs.exists(tmp_path) else None
    assert tmp in (None, b"", str(old + bump).encode())
    current_tmp = tmp if target == "currentEpoch" else None

    outcome = load_database(fs, SNAP)
    assert epoch_of(written.last_zxid) == log_epoch
    want = expected(log_epoch, current, accepted, current_tmp, written.last_zxid)
    if isinstance(want, str):
        assert isinstance(outcome, DatabaseRefused)
        assert outcome.message == want
    else:
        assert isinstance(outcome, DatabaseLoaded)
        assert (outcome.zxid, outcome.current_epoch, outcome.accepted_epoch) == (written.last_zxid, *want)
        # What start-up wrote is durable and agrees with what it reported.
        assert int(fs.read_bytes(f"{SNAP}/currentEpoch")) == outcome.current_epoch
        if current_tmp is not None and log_epoch > current:
            assert not fs.exists(f"{SNAP}/currentEpoch.tmp")  # renamed over currentEpoch by setCurrentEpoch


def test_the_zookeeper_1653_window_is_refused_and_the_tmp_window_recovers() -> None:
    """A learner logged epoch-2 txns (its NEWLEADER snapshot), then died writing currentEpoch := 2."""
    fs = MemoryFileSystem()
    write_data_dir(fs, "/d", txns_per_epoch=(3, 3), current_epoch=1, accepted_epoch=2)
    steps = EpochWrite(f"{SNAP}/currentEpoch", 2).steps(fs)
    next(steps)
    next(steps)  # tmp written and fsynced, not yet renamed
    fs.crash()
    outcome = load_database(fs, SNAP)
    assert isinstance(outcome, DatabaseLoaded) and outcome.current_epoch == 2
    assert any(line.text == f"{SNAP}/currentEpoch.tmp found. Setting current epoch to 2." for line in outcome.log)

    fs = MemoryFileSystem()
    write_data_dir(fs, "/d", txns_per_epoch=(3, 3), current_epoch=1, accepted_epoch=2)
    outcome = load_database(fs, SNAP)  # crashed before the tmp was even opened
    assert isinstance(outcome, DatabaseRefused)
    assert outcome.message == "The current epoch, 1, is older than the last zxid, 8589934595"
