"""DECISION_QUORUM and lookForLeader's finalize wait: once `recvset` holds a quorum for the proposal, the
notifications that arrive in the next `finalizeWait` ms and are not greater are dropped without entering
`recvset`. The 10-minute default campaign of 2026-12-02 found a run where that matters: server 2 follows 1,
is truncated, and starts its next election in the same round (logicalclock was set back to 1 when it joined)
with a lower zxid; server 3 had already counted 2's earlier vote of that round, drops the lower one in its
finalize wait and decides. ZooKeeper does the same, so the check must accept it, and must still reject the
same decide when 2's matching vote never arrived."""

from __future__ import annotations

from pathlib import Path

import msgspec

from zkfle.checker.cli import main
from zkfle.checker.reader import open_trace
from zkfle.checker.verdict import check_events
from zkfle.spec import trace as tr
from zkfle.spec.invariants import Invariant

DRAIN = [
    "--servers", "3", "--seed", "2", "--faults", "none", "--writes", "0", "--duration-ms", "30000",
    "--history", "1=10", "--history", "2=10,4", "--history", "3=9",
    "--fault", "disk-fail 3 after 3 when 3 recv:NEWLEADER",
    "--fault", "break 1-3 when 3 recv:NEWLEADER",
    "--fault", "disk-fail 2 after 2 when 2 send:ACKEPOCH",
    "--fault", "partition 1|2,3 for 2000 when at 143",
    "--fault", "crash 1 when at 2454",
    "--fault", "crash leader when at 3420",
    "--fault", "partition 1,3|2 for 500 when at 0",
]  # fmt: skip


def _run(tmp_path: Path) -> tuple[tr.TraceHeader, list[tr.Event]]:
    out = tmp_path / "drain.ndjson"
    assert main(["simulate", *DRAIN, "--out", str(out), "--quiet"]) == 0
    with open_trace(out) as reader:
        return reader.header, list(reader)


def _vote(v: tr.TraceVote | tr.Notification) -> tuple[int, int, int]:
    return (v.leader, v.zxid, v.peer_epoch)


def _drained_decide(events: list[tr.Event]) -> tuple[tr.Decide, int, int]:
    """Server 3's decide for 2, the index of 2's matching vote, and that of 2's last vote before the decide."""
    decide = next(e for e in events if isinstance(e, tr.Decide) and e.sid == 3 and e.vote.leader == 2)
    votes = [
        (i, e.msg)
        for i, e in enumerate(events[: events.index(decide)])
        if isinstance(e, tr.Recv) and e.sid == 3 and e.from_ == 2 and isinstance(e.msg, tr.Notification)
        if e.msg.state == "LOOKING" and e.msg.round == decide.round
    ]
    matching = [i for i, msg in votes if _vote(msg) == _vote(decide.vote)]
    return decide, matching[-1], votes[-1][0]


def test_a_vote_dropped_in_the_finalize_wait_does_not_unback_the_decision(tmp_path: Path) -> None:
    header, events = _run(tmp_path)
    _, matching, last = _drained_decide(events)
    assert last > matching  # the premise: 2's latest vote at the decide is not the decided one
    assert check_events(header, events).violations == ()


def test_without_the_matching_vote_the_decision_has_no_quorum(tmp_path: Path) -> None:
    header, events = _run(tmp_path)
    decide, matching, _ = _drained_decide(events)
    recv = events[matching]
    assert isinstance(recv, tr.Recv) and isinstance(recv.msg, tr.Notification)
    other = msgspec.structs.replace(recv.msg, zxid=recv.msg.zxid - 1)
    events[matching] = msgspec.structs.replace(recv, msg=other)
    found = {(v.invariant, v.seq) for v in check_events(header, events).violations}
    assert (Invariant.DECISION_QUORUM, decide.seq) in found
