"""DECISION_QUORUM against what lookForLeader actually keeps in `recvset`. Two runs of the default protocol that
the 10-minute campaign of 2026-12-02 reported, both what ZooKeeper does, so the check must accept them, and
must still reject the same decide once the vote that backed it is replaced by a real non-matching one.

* finalize wait: once `recvset` holds a quorum for the proposal, the notifications that arrive in the next
  `finalizeWait` ms and are not greater are dropped without entering `recvset`. Server 2 follows 1, is
  truncated, and starts its next election in the same round (logicalclock was set back when it joined) with a
  lower zxid; server 3 had already counted 2's earlier vote of that round, drops the lower one and decides.
* zxid -1: server 2's disk is wiped (`--no-autocreate`), so its database is untrusted and its votes carry zxid
  -1, which lookForLeader ignores (ZOOKEEPER-261): server 4's `recvset` keeps 2's earlier vote, which with 1's
  and its own is a quorum of the four.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import msgspec
import pytest

from zkfle.checker.cli import main
from zkfle.checker.reader import open_trace
from zkfle.checker.verdict import check_events
from zkfle.spec import trace as tr
from zkfle.spec.invariants import Invariant


class Case(NamedTuple):
    flags: list[str]
    decider: int
    sender: int
    """The decide of `decider` for `sender`, whose latest notification before it does not carry the vote."""


CASES = {
    "finalize-wait": Case(
        [
            "--servers", "3", "--seed", "2", "--faults", "none", "--writes", "0", "--duration-ms", "30000",
            "--history", "1=10", "--history", "2=10,4", "--history", "3=9",
            "--fault", "disk-fail 3 after 3 when 3 recv:NEWLEADER",
            "--fault", "break 1-3 when 3 recv:NEWLEADER",
            "--fault", "disk-fail 2 after 2 when 2 send:ACKEPOCH",
            "--fault", "partition 1|2,3 for 2000 when at 143",
            "--fault", "crash 1 when at 2454",
            "--fault", "crash leader when at 3420",
            "--fault", "partition 1,3|2 for 500 when at 0",
        ],
        decider=3,
        sender=2,
    ),
    "zxid-minus-one": Case(
        [
            "--servers", "4", "--seed", "620", "--faults", "heavy", "--writes", "32", "--duration-ms", "20000",
            "--no-autocreate", "--history", "1=12,0", "--history", "2=3", "--history", "3=10", "--history", "4=1",
            "--fault", "partition 1,3,4|2 for 4000 when 2 committed#3",
            "--fault", "crash 4 for 15000 when 4 committed#4",
            "--fault", "disk-crash 2 after 4 for 3000 when 2 recv:NEWLEADER#2",
            "--fault", "crash 3 for 60000 when 2 state:LOOKING",
            "--fault", "wipe 3 when at 162",
            "--fault", "crash 3 for 200 when at 162",
            "--fault", "disk-fail 1 after 2 when 2 txn_logged#2",
            "--fault", "crash 2 when at 3260",
            "--fault", "wipe 2 when 2 send:ACK#3",
            "--fault", "crash 2 for 3000 when 2 send:ACK#3",
            "--fault", "disk-fail 2 after 3 when 2 synced",
            "--fault", "wipe 2 when at 14158",
            "--fault", "crash 2 when at 14158",
        ],
        decider=4,
        sender=2,
    ),
}  # fmt: skip


def _run(tmp_path: Path, case: Case) -> tuple[tr.TraceHeader, list[tr.Event]]:
    out = tmp_path / "t.ndjson"
    assert main(["simulate", *case.flags, "--out", str(out), "--quiet"]) == 0
    with open_trace(out) as reader:
        return reader.header, list(reader)


def _vote(v: tr.TraceVote | tr.Notification) -> tuple[int, int, int]:
    return (v.leader, v.zxid, v.peer_epoch)


def _votes_before_decide(events: list[tr.Event], case: Case) -> tuple[tr.Decide, list[int], list[int]]:
    """The decider's decide for the sender, and the indices of the sender's LOOKING notifications of that
    round it took in before: those carrying the decided vote, and the others."""
    decide = next(
        e for e in events if isinstance(e, tr.Decide) and e.sid == case.decider and e.vote.leader == case.sender
    )
    matching: list[int] = []
    other: list[int] = []
    for i, e in enumerate(events[: events.index(decide)]):
        if isinstance(e, tr.Recv) and e.sid == case.decider and e.from_ == case.sender:
            msg = e.msg
            if isinstance(msg, tr.Notification) and msg.state == "LOOKING" and msg.round == decide.round:
                (matching if _vote(msg) == _vote(decide.vote) else other).append(i)
    return decide, matching, other


@pytest.mark.parametrize("name", CASES)
def test_the_decision_zookeeper_takes_checks_clean(name: str, tmp_path: Path) -> None:
    header, events = _run(tmp_path, CASES[name])
    _, matching, other = _votes_before_decide(events, CASES[name])
    assert matching and other and other[-1] > matching[-1]  # the premise: its latest vote is not the decided one
    assert check_events(header, events).violations == ()


@pytest.mark.parametrize("name", CASES)
def test_with_a_real_other_vote_instead_the_decision_has_no_quorum(name: str, tmp_path: Path) -> None:
    header, events = _run(tmp_path, CASES[name])
    decide, matching, other = _votes_before_decide(events, CASES[name])
    for i in [*matching, *other]:  # every vote of the sender in that round: a trusted zxid below the decided one
        recv = events[i]
        assert isinstance(recv, tr.Recv) and isinstance(recv.msg, tr.Notification)
        events[i] = msgspec.structs.replace(recv, msg=msgspec.structs.replace(recv.msg, zxid=decide.vote.zxid - 1))
    found = {(v.invariant, v.seq) for v in check_events(header, events).violations}
    assert (Invariant.DECISION_QUORUM, decide.seq) in found
