"""The early-run motifs of `fuzzing.strategies` draw the fault shapes their docstrings claim, shrink to the
shortest story, and that story reaches the bugs it is for: a learner whose catch-up fails at NEWLEADER while
the leader dies (ZK_2355 after a DIFF, ZK_3642 after a SNAP), and a leader that crashes right after each of
its first LEADING decisions (ZK_1514). Without the switches the same runs check clean."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from zkfle.checker.fuzzing.schedule import Schedule, run_schedule
from zkfle.checker.fuzzing.strategies import _failed_catch_up, _flapping_leader, schedules
from zkfle.impl.drivers.faultplan import LEADER, Fault

SIDS = [1, 2, 3]
QUIET = settings(database=None, derandomize=True, suppress_health_check=list(HealthCheck))


@given(st.sampled_from([3, 5]).flatmap(lambda n: _failed_catch_up(list(range(1, n + 1)))))
@QUIET
def test_failed_catch_up_cuts_one_learner_off_and_fails_its_next_newleader(plan: list[Fault]) -> None:
    partition, fail, crash = plan
    (x,) = min(partition.groups, key=len)
    sids = sorted({s for g in partition.groups for s in g})
    assert x in sids[-2:] and partition.trigger.sid == x
    assert partition.trigger.event in ("committed", "synced")
    assert fail.action == "disk-fail" and fail.sids == (x,) and fail.count in (1, 2)
    assert (crash.action, crash.sids) == ("crash", (LEADER,)) and crash.ms is not None and crash.ms > 30_000
    assert str(fail.trigger) == str(crash.trigger) == f"{x} recv:NEWLEADER#2"


@given(st.sampled_from([3, 5]).flatmap(lambda n: _flapping_leader(list(range(1, n + 1)))))
@QUIET
def test_flapping_leader_crashes_the_highest_sid_after_each_decision(plan: list[Fault]) -> None:
    first, *again = plan
    x = first.sids[0]
    assert x in (3, 5) and str(first.trigger) == f"{x} established" and first.ms is not None and first.ms <= 150
    assert [str(f.trigger) for f in again] == [f"{x} decide:LEADING#{n}" for n in range(2, 2 + len(again))]
    assert 2 <= len(again) <= 3 and all(f.action == "crash" and f.sids == (x,) for f in again)


def _shortest(motif: Callable[[list[int]], st.SearchStrategy[list[Fault]]], event: str = "") -> tuple[Fault, ...]:
    """The motif's shrunk example over three servers (with its cut at `event`, if given)."""
    chosen = find(motif(SIDS), lambda plan: not event or plan[0].trigger.event == event, settings=QUIET)
    return tuple(chosen)


@pytest.mark.parametrize(
    ("bug", "invariant", "motif", "event", "writes"),
    [
        ("ZK_2355", "COMMITTED_DURABLE", _failed_catch_up, "committed", 20),
        ("ZK_3642", "COMMITTED_DURABLE", _failed_catch_up, "synced", 20),
        ("ZK_1514", "FLE_CONFORMS", _flapping_leader, "", 0),
    ],
)
def test_the_shortest_story_reaches_its_bug_on_a_new_ensemble(
    bug: str,
    invariant: str,
    motif: Callable[[list[int]], st.SearchStrategy[list[Fault]]],
    event: str,
    writes: int,
) -> None:
    plan = _shortest(motif, event)
    hits = 0
    for seed in range(4):
        fixed = Schedule(servers=3, seed=seed, faults="none", writes=writes, duration_ms=10_000, plan=plan, inject=())
        assert run_schedule(fixed).violations == ()
        broken = run_schedule(dataclasses.replace(fixed, inject=(bug,)))
        hits += invariant in {v.invariant.value for v in broken.violations}
    assert hits == 4


def test_schedules_draw_the_early_motifs_on_new_ensembles_too() -> None:
    def early(s: Schedule) -> bool:
        return s.history == () and any(str(f.trigger).endswith("recv:NEWLEADER#2") for f in s.plan)

    assert find(schedules(), early, settings=settings(QUIET, max_examples=300)).history == ()
