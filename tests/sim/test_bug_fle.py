"""The election switches of the bug catalog (and ZOOKEEPER-1343's epoch choice), each found by the checker.

Every case is a small simulator run with a plan of faults (`--fault`) that drives the ensemble onto the code
path the fix removed: with the switch (`--inject`) the check reports exactly the catalog entry's invariant
(plus the ones that must break with it), without it the same run checks clean. docs/bugs.md has the command
lines and what each report says.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec
import pytest

from zkfle.checker.verdict import Verdict, check_events
from zkfle.impl.bugs import Bug
from zkfle.impl.core.quorum import QuorumMaj
from zkfle.impl.drivers.faultplan import parse_fault
from zkfle.impl.drivers.simulator import SimConfig, Simulator, trace_header
from zkfle.spec import trace as tr
from zkfle.spec.invariants import Invariant


@dataclass(frozen=True)
class Case:
    """One reproducer: the switch, the run, and the invariants its check reports."""

    bug: Bug
    plan: tuple[str, ...]
    expected: frozenset[Invariant]
    servers: int = 3
    duration_ms: float = 8000.0
    max_events: int = 100_000
    writes: int = 0
    db_autocreate: bool = True


def _run(case: Case, bugs: frozenset[Bug]) -> tuple[list[tr.Event], Verdict]:
    config = SimConfig(
        QuorumMaj(frozenset(range(1, case.servers + 1))),
        seed=1,
        faults="none",
        writes=case.writes,
        duration_ms=case.duration_ms,
        max_events=case.max_events,
        bugs=bugs,
        plan=tuple(parse_fault(text) for text in case.plan),
        db_autocreate=case.db_autocreate,
    )
    header = trace_header(config, {})
    events: list[tr.Event] = []
    Simulator(config, events.append).run()
    numbered = [msgspec.structs.replace(e, seq=i) for i, e in enumerate(events, 1)]
    return numbered, check_events(header, numbered)


CASES = [
    Case(
        # 3 leads epoch 1 and is down while 1 and 2 establish epoch 2 (no writes: all zxids stay 0); all three
        # restart together, so (3, 0, 1) meets (2, 0, 2) in one round: the old predicate lets the first beat
        # the second on the id and the second the first on the epoch, and a proposal falls in the order
        Bug.ZK_1419,
        (
            "crash 3 for 3000 when 3 established",
            "crash 1 for 100 when 3 boot#2",
            "crash 2 for 100 when 3 boot#2",
        ),
        frozenset({Invariant.VOTE_MONOTONIC, Invariant.FLE_CONFORMS}),
        max_events=5000,  # the old order never settles: proposals flip at once, thousands per virtual ms
    ),
    Case(
        # 3 leads, crashes at once (round 2 elects it again), then crashes right after deciding twice more:
        # 1 and 2 still follow it (round 2, retrying to connect), and the restarted 3, in round 1, is sent
        # their FOLLOWING votes for itself of round 2 -- a quorum of an older round
        Bug.ZK_1514,
        (
            "crash 3 for 50 when 3 established",
            "crash 3 for 300 when 3 decide:LEADING#2",
            "crash 3 for 300 when 3 decide:LEADING#3",
        ),
        frozenset({Invariant.FLE_CONFORMS}),
        duration_ms=10000.0,
    ),
    Case(
        # 1 follows 3 (round 1) but is cut off, retrying to connect, while 3 crashes and 2 and 3 elect 3 again
        # in round 2; 1 connects after the heal, so the ensemble's votes name 3 in rounds 1 and 2; the
        # restarted 2 never sees two "equal" votes with the old Vote.equals and keeps looking
        Bug.ZK_1732,
        (
            "partition 1|2,3 for 2800 when 1 decide:FOLLOWING",
            "crash 3 for 50 when 3 established",
            "crash 2 for 300 when 1 synced",
        ),
        frozenset({Invariant.FLE_CONFORMS}),
    ),
    Case(
        # 3 (highest id) leads epoch 1 and crashes; 1 and 2 elect 2; the restarted 3 is sent their last
        # LOOKING notifications again (lastMessageSent), holds a vote from every voter and goes LEADING
        Bug.ZK_975,
        ("crash 3 when 3 established",),
        frozenset({Invariant.FLE_CONFORMS, Invariant.DECISION_QUORUM}),
    ),
    Case(
        # server 1's data dir is wiped (autocreate off: it restores to zxid -1) and the leader 3 goes down:
        # the empty server takes part in the election of 1 and 2
        Bug.ZK_261,
        ("wipe 1 when at 1000", "crash 1 for 300 when at 1000", "crash 3 for 5000 when at 1200"),
        frozenset({Invariant.FLE_CONFORMS}),
        duration_ms=4000.0,
        db_autocreate=False,
    ),
    Case(
        # 3 is down while 2 leads epoch 1 with 1; 2 dies when 1's ACKEPOCH (acceptedEpoch 1) reaches it;
        # 3 returns, wins, and proposes epoch 1 again: 1's acceptedEpoch 1 does not raise it with `>`
        Bug.ZK_1343,
        ("crash 3 for 2000 when 3 boot", "crash 2 for 6000 when 2 recv:ACKEPOCH"),
        frozenset({Invariant.NEW_EPOCH_IS_FRESH}),
    ),
]


BY_BUG = {c.bug: c for c in CASES}


@pytest.mark.parametrize("case", CASES, ids=[c.bug.value for c in CASES])
def test_the_switch_is_found_and_the_fix_checks_clean(case: Case) -> None:
    _, buggy = _run(case, frozenset({case.bug}))
    assert {v.invariant for v in buggy.violations} == case.expected
    assert case.bug.info.invariant in case.expected
    _, fixed = _run(case, frozenset())
    assert fixed.ok, [v.message for v in fixed.violations]


def test_zk975_the_restarted_server_leads_beside_the_running_leader() -> None:
    """The second report is the scenario of the JIRA: after 2 was established, the restarted 3 goes LEADING."""
    events, verdict = _run(BY_BUG[Bug.ZK_975], frozenset({Bug.ZK_975}))
    established = next(e.seq for e in events if isinstance(e, tr.Established) and e.sid == 2)
    late = [v for v in verdict.violations if v.invariant is Invariant.FLE_CONFORMS and v.seq > established]
    assert late and late[0].sid == 3 and "decides LEADING" in late[0].message


def test_zk261_the_wiped_server_restores_to_zxid_minus_one_and_sits_out_when_fixed() -> None:
    events, verdict = _run(BY_BUG[Bug.ZK_261], frozenset())
    recovered = [e for e in events if isinstance(e, tr.Recovered) and e.sid == 1]
    assert [e.zxid for e in recovered] == [0, -1]  # the initialize file, then the wiped dir
    assert verdict.ok
    assert not any(isinstance(e, tr.Decide) and e.sid == 1 for e in events[recovered[1].seq :])
