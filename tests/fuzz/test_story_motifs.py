"""The lagging-learner and torn-sync motifs of `fuzzing.strategies` draw the fault shapes their docstrings
claim, and their shortest stories reach the bugs they are for: the lagging learner's catch-up that dies at
its first log append (ZK_4643) or whose leader dies at NEWLEADER (ZK_4394), a SNAP learner torn in the
rename of currentEpoch.tmp (ZK_4269, with the ZK_1653 it requires), and a learner whose acceptedEpoch write
fails and that dies after its next currentEpoch write (ZK_2307). Without the switches the same runs check
clean."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from zkfle.checker.fuzzing.schedule import History, Schedule, run_schedule
from zkfle.checker.fuzzing.strategies import _history, _lagging_learner, _torn_sync, first_leader
from zkfle.impl.drivers.faultplan import Fault

QUIET = settings(database=None, derandomize=True, suppress_health_check=list(HealthCheck))
EARLIER: History = ((1, (6,)), (2, (6,)), (3, (6,)))
"""Three members of an earlier ensemble with the same history: server 3 leads the first epoch."""


def test_the_first_leader_has_the_highest_vote_of_the_history() -> None:
    assert first_leader(()) is None
    assert first_leader(EARLIER) == 3
    assert first_leader(((1, (9,)), (2, (1, 0)), (3, (8,)))) == 2  # currentEpoch 2 beats more txns of epoch 1
    assert first_leader(((1, (3, 2)), (2, (3, 1)), (3, (5, 1)))) == 1


@given(
    st.sampled_from([3, 5]).flatmap(
        lambda n: _history(n).flatmap(lambda h: st.tuples(st.just(h), _lagging_learner(list(range(1, n + 1)), h)))
    )
)
@QUIET
def test_lagging_learner_moves_the_partition_at_protocol_events(drawn: tuple[History, list[Fault]]) -> None:
    history, plan = drawn
    sids = [sid for sid, _ in history]
    cut, moved, *catch_up, last = plan
    x = cut.trigger.sid
    assert x is not None and x != first_leader(history)
    behind = min(cut.groups, key=lambda g: x not in g)
    holders = min(moved.groups, key=lambda g: moved.trigger.sid not in g)
    assert x in behind and len(behind) == (len(sids) - 1) // 2 and len(holders) == len(behind)
    assert not set(behind) & set(holders) and cut.trigger.event == moved.trigger.event == "committed"
    assert moved.trigger.nth >= cut.trigger.nth + 2
    (z,) = set(sids) - set(behind) - set(holders)
    down = {s for f in catch_up if f.action == "crash" and f.sids != (x,) for s in f.sids}
    assert down == {z, *behind} - {x}
    assert last.action == "partition" and sorted(min(last.groups, key=lambda g: z not in g)) == sorted(down)
    moment = catch_up[0].trigger
    assert moment.sid == x and moment.nth == 2 and moment.event in ("recv:NEWLEADER", "recv:UPTODATE")


def _story(history: History, disk: bool) -> tuple[Fault, ...]:
    """The shortest lagging-learner story over `history`: X dies in its catch-up (`disk`) or its leader does."""
    plan = find(
        _lagging_learner([1, 2, 3], history),
        lambda p: any(f.action == "disk-crash" for f in p) == disk and p[2].trigger.event == "recv:NEWLEADER",
        settings=QUIET,
    )
    return tuple(plan)


def _hits(first: Schedule, bug: tuple[str, ...], invariant: str, seeds: int) -> int:
    """Runs of `first` with seeds 0..seeds-1 that break `invariant` with the switches `bug`; each run is
    clean without them."""
    hits = 0
    for seed in range(seeds):
        fixed = dataclasses.replace(first, seed=seed)
        assert run_schedule(fixed).violations == ()
        broken = run_schedule(dataclasses.replace(fixed, inject=bug))
        hits += invariant in {v.invariant.value for v in broken.violations}
    return hits


@pytest.mark.parametrize(("bug", "disk"), [("ZK_4643", True), ("ZK_4394", False)])
def test_the_shortest_lagging_learner_story_reaches_its_bug(bug: str, disk: bool) -> None:
    story = Schedule(3, 0, "none", 20, 20_000, _story(EARLIER, disk), (), EARLIER)
    assert _hits(story, (bug,), "COMMITTED_DURABLE", 4) >= 3


@given(st.sampled_from([3, 4, 5]).flatmap(lambda n: _torn_sync(list(range(1, n + 1)))))
@QUIET
def test_torn_sync_crashes_or_fails_a_learner_inside_an_early_sync(plan: list[Fault]) -> None:
    fault, *later = plan
    x = fault.sids[0]
    assert fault.trigger.sid == x and fault.trigger.nth in (1, 2)
    if fault.action == "disk-crash":
        assert later == [] and 1 <= fault.count <= 9 and fault.trigger.event == "recv:NEWLEADER"
    else:
        (crash,) = later
        assert fault.action == "disk-fail" and 1 <= fault.count <= 3
        assert fault.trigger.event in ("recv:NEWLEADER", "recv:LEADERINFO")
        assert (crash.action, crash.sids, crash.trigger.sid) == ("crash", (x,), x)
        assert crash.trigger.event == "epoch_write:currentEpoch:done"


def _torn(bug: tuple[str, ...], invariant: str, chosen: Callable[[list[Fault]], bool], seeds: int) -> int:
    """`_hits` of the shortest torn sync that `chosen` accepts, on a new ensemble of 3 servers."""
    plan = tuple(find(_torn_sync([1, 2, 3]), chosen, settings=QUIET))
    return _hits(Schedule(3, 0, "none", 5, 10_000, plan, ()), bug, invariant, seeds)


def test_a_sync_torn_in_the_rename_of_current_epoch_tmp_reaches_zk_4269() -> None:
    # A SNAP sync without the marker (ZK_1653): the snapshot's 3 operations, then currentEpoch.tmp's write,
    # fsync and rename: the 6th is the rename. A learner of a new ensemble gets a SNAP or an empty DIFF,
    # depending on the timing of its connection; with these seeds, a SNAP twice.
    def rename(p: list[Fault]) -> bool:
        return p[0].action == "disk-crash" and p[0].count == 6 and p[0].trigger.nth == 1

    assert _torn(("ZK_1653",), "RECOVERY_FAITHFUL", rename, 6) == 0
    assert _torn(("ZK_1653", "ZK_4269"), "RECOVERY_FAITHFUL", rename, 6) >= 2


def test_a_failed_accepted_epoch_write_then_a_crash_reaches_zk_2307() -> None:
    def accepted_epoch(p: list[Fault]) -> bool:
        return p[0].action == "disk-fail" and p[0].trigger.event == "recv:LEADERINFO"

    assert _torn(("ZK_2307",), "EPOCH_ORDER", accepted_epoch, 4) >= 3
