"""`zkfle.spec.recovery.load_database` against semantics.md §2.1, including the real messages of the corpus."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from zkfle.spec.recovery import FRESH, NO_SNAPSHOT_MESSAGE, DurableState, Loaded, Refused, Unreadable, load_database
from zkfle.spec.zxid import Epoch, Zxid, epoch_of, make_zxid


def _state(zxid: int, current: int | None, accepted: int | None, tmp: int | None = None) -> DurableState:
    def e(v: int | None) -> Epoch | None:
        return None if v is None else Epoch(v)

    return DurableState(Zxid(zxid), e(current), e(accepted), e(tmp))


def test_fresh_data_dir_starts_at_epoch_zero_and_writes_both_files() -> None:
    result = load_database(FRESH)
    # the snapshot.0 that restore writes is not fsynced: the dir still has no durable snapshot
    assert result == Loaded(Zxid(0), Epoch(0), Epoch(0), DurableState(Zxid(0), Epoch(0), Epoch(0), snapshot=False))


def test_log_entries_without_a_snapshot_are_refused() -> None:
    state = DurableState(Zxid(make_zxid(1, 2)), Epoch(1), Epoch(1), snapshot=False, log_entries=True)
    assert load_database(state) == Refused(NO_SNAPSHOT_MESSAGE, None, None, None)
    assert NO_SNAPSHOT_MESSAGE == "No snapshot found, but there are log entries. Something is broken!"


def test_untrusted_empty_database_gives_epoch_minus_one() -> None:
    result = load_database(_state(-1, None, None))
    assert isinstance(result, Loaded)
    assert (result.current_epoch, result.accepted_epoch) == (-1, -1)


def test_current_epoch_older_than_log_is_refused_with_zookeepers_text() -> None:
    # the real 3.8.0 message quoted in semantics.md §2.1
    result = load_database(_state(make_zxid(2, 1), 0, 2))
    assert result == Refused(
        "The current epoch, 0, is older than the last zxid, 8589934593", Zxid(8589934593), Epoch(0), None
    )


def test_tmp_file_is_adopted_without_checking_it_is_large_enough() -> None:
    result = load_database(_state(make_zxid(2, 1), 0, 2, tmp=1))
    # ZOOKEEPER-4269: the .tmp value is taken as it is, then acceptedEpoch 2 >= 1 passes
    assert result == Loaded(Zxid(make_zxid(2, 1)), Epoch(1), Epoch(2), _state(make_zxid(2, 1), 1, 2))


def test_accepted_below_current_is_refused_without_comma() -> None:
    result = load_database(_state(make_zxid(2, 0), 2, 1))
    assert isinstance(result, Refused)
    assert result.message == "The accepted epoch, 1 is less than the current epoch, 2"


def test_epochs_are_printed_in_hex() -> None:
    result = load_database(_state(make_zxid(2, 0), 0x1A, 0x10))
    assert isinstance(result, Refused)
    assert result.message == "The accepted epoch, 10 is less than the current epoch, 1a"


def test_unreadable_file_gives_the_found_message() -> None:
    bad = DurableState(Zxid(0), Unreadable(None, "/data/version-2/currentEpoch"), Epoch(0))
    result = load_database(bad)
    assert isinstance(result, Refused)
    assert result == Refused("Found null in /data/version-2/currentEpoch", Zxid(0), None, None)


def test_stale_tmp_is_kept_when_not_needed() -> None:
    state = _state(make_zxid(1, 3), 1, 1, tmp=5)
    result = load_database(state)
    assert isinstance(result, Loaded) and result.after == state and result.current_epoch == 1


epochs = st.one_of(st.none(), st.integers(-1, 5))


@settings(max_examples=300, deadline=None)
@given(st.integers(-1, 5), st.integers(0, 3), epochs, epochs, epochs)
def test_a_start_always_has_ordered_epochs_covering_the_log(
    epoch: int, counter: int, current: int | None, accepted: int | None, tmp: int | None
) -> None:
    zxid = -1 if epoch == -1 else make_zxid(epoch, counter)
    result = load_database(_state(zxid, current, accepted, tmp))
    if isinstance(result, Loaded):
        assert result.accepted_epoch >= result.current_epoch
        assert result.after.current_epoch == result.current_epoch
        assert result.after.accepted_epoch == result.accepted_epoch
        again = load_database(result.after)
        if result.current_epoch >= epoch_of(zxid):
            # loading again what it left loads the same values and writes nothing more
            assert isinstance(again, Loaded) and again.after == result.after
        else:
            # only an adopted .tmp older than the log gets here (ZOOKEEPER-4269): the next start refuses
            assert tmp is not None and tmp < epoch_of(zxid) and isinstance(again, Refused)
    else:
        assert result.message.startswith(("The current epoch, ", "The accepted epoch, "))
