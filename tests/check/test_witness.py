"""Minimal witnesses (`proofs.witness`): for every bad-* trace of traces/invariants/ whose invariant z3 encodes,
the witness is a minimal unsat core — it holds the violation's seq, lies in the causal past of the check's
witness, forces the violation, and loses that as soon as any one of its events' facts is dropped (re-solved
here) — and it can be strictly smaller than the check's witness and than the causal past."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import msgspec
import pytest

from zkfle.checker.cli import main
from zkfle.checker.graphs import causal_past
from zkfle.checker.proofs.trace_rules import ENCODED
from zkfle.checker.proofs.witness import WitnessProblem, minimal_witness
from zkfle.checker.reader import open_trace
from zkfle.checker.verdict import check_events, check_file
from zkfle.checker.verdict.model import Violation
from zkfle.spec import trace as tr
from zkfle.spec.invariants import Invariant
from zkfle.spec.zxid import Epoch, ServerId, Zxid, epoch_of, make_zxid

TRACES = Path(__file__).resolve().parent.parent.parent / "traces" / "invariants"
BAD = sorted(TRACES.glob("*/bad-*.ndjson"))


def _first_of_each(violations: tuple[Violation, ...]) -> list[Violation]:
    seen: set[Invariant] = set()
    first = []
    for v in violations:
        if v.invariant not in seen:
            seen.add(v.invariant)
            first.append(v)
    return first


def _past(v: Violation) -> set[int]:
    """The causal past (happens-before) of the check's witness events within the violation's window."""
    return {s for w in v.witness for s in causal_past(v.recent, w)}


def _assert_minimal_core(header: tr.TraceHeader, v: Violation, seqs: tuple[int, ...]) -> None:
    problem = WitnessProblem(header, v)
    assert problem.unsat(seqs) is True
    for dropped in seqs:
        assert problem.unsat([s for s in seqs if s != dropped]) is False, (v.invariant, dropped)


@pytest.mark.parametrize("path", BAD, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_the_minimal_witness_of_every_bad_trace(path: Path) -> None:
    with open_trace(path) as reader:
        header = reader.header
    for v in _first_of_each(check_file(path).violations):
        witness = minimal_witness(header, v)
        if v.invariant not in ENCODED:
            assert witness is None  # docs/invariants.md: the check's own witness is already minimal
            continue
        assert witness is not None, v.invariant
        assert v.seq in witness.seqs
        allowed = _past(v)
        if v.invariant is Invariant.COMMITTED_DURABLE:
            # the hand-written trace has no messages: the quorum's other commits are concurrent with the new
            # leader, and the check's witness names only the commit that completed the quorum
            committed = {e.zxid for e in v.recent if isinstance(e, tr.Committed) and e.seq in v.witness}
            allowed |= {e.seq for e in v.recent if isinstance(e, tr.Committed) and e.zxid in committed}
        assert set(witness.seqs) <= allowed, (witness.seqs, sorted(allowed))
        assert [s for s, _ in witness.facts] == list(witness.seqs)
        _assert_minimal_core(header, v, witness.seqs)


def _decision_without_quorum() -> tuple[tr.TraceHeader, list[tr.Event]]:
    """7 servers: server 1 decides for 7 with LOOKING votes for 7 from 2 and 5 (the check's witness: those
    and the decide) and a vote for 3 from 3. Three of seven is no quorum; a fourth would be. What forces
    the violation is server 3's other vote: had it been for 7, {1, 2, 3, 5} would be a quorum."""
    header = tr.TraceHeader(
        1,
        [tr.ServerEntry(ServerId(s), "participant") for s in range(1, 8)],
        tr.MajorityQuorum(),
        "hand",
        None,
        {},
    )
    events: list[tr.Event] = []

    def add(event: tr.Event) -> None:
        events.append(msgspec.structs.replace(event, seq=len(events) + 1))

    def vote(leader: int) -> tr.TraceVote:
        return tr.TraceVote(ServerId(leader), Zxid(0), Epoch(0))

    for sid in (1, 2, 3, 5):
        add(tr.Boot(0, 0.0, ServerId(sid)))
        add(tr.Recovered(0, 0.0, ServerId(sid), Zxid(0), Epoch(0), Epoch(0)))
    add(tr.ElectionStart(0, 0.0, ServerId(1), 1, vote(1)))
    for sender, leader in ((2, 7), (3, 3), (5, 7)):
        msg = tr.Notification("LOOKING", ServerId(leader), Zxid(0), 1, Epoch(0))
        add(tr.Send(0, 0.0, ServerId(sender), ServerId(1), f"{sender}-1", msg))
        add(tr.Recv(0, 0.0, ServerId(1), ServerId(sender), f"{sender}-1", msg))
    add(tr.Decide(0, 0.0, ServerId(1), "FOLLOWING", 1, vote(7)))
    return header, events


def test_a_minimal_witness_strictly_smaller_than_the_checks_and_the_causal_past() -> None:
    header, events = _decision_without_quorum()
    (v,) = [v for v in check_events(header, events).violations if v.invariant is Invariant.DECISION_QUORUM]
    recv_from: dict[int, int] = {int(e.from_): e.seq for e in events if isinstance(e, tr.Recv)}
    decide = events[-1].seq
    assert v.witness == (recv_from[2], recv_from[5], decide)
    witness = minimal_witness(header, v)
    assert witness is not None
    assert witness.seqs == (recv_from[3], decide)
    assert len(witness.seqs) < len(v.witness)
    assert set(witness.seqs) < _past(v) and len(_past(v)) >= 10
    _assert_minimal_core(header, v, witness.seqs)
    assert "msg.leader=3" in dict(witness.facts)[recv_from[3]]


def test_a_witness_inside_a_window_that_starts_mid_trace(ensemble: ModuleType) -> None:
    """A txn of the wrong epoch late in a long run: the window does not reach the trace's start (the state
    before it is unknown), and the core is the leader's `established` and the txn."""
    ens = ensemble.standard_run(5)
    events = ensemble.renumber(ens.events)
    i = max(k for k, e in enumerate(events) if isinstance(e, tr.Established))
    leader = events[i]
    j = next(k for k in range(i, len(events)) if isinstance(events[k], tr.TxnLogged) and events[k].sid == leader.sid)
    txn = events[j]
    assert isinstance(txn, tr.TxnLogged)
    wrong = make_zxid(epoch_of(txn.zxid) - 1, 0xFFFF)
    events = ensemble.renumber([*events[:j], msgspec.structs.replace(txn, zxid=wrong), *events[j + 1 :]])
    (v,) = [v for v in check_events(ens.header, events).violations if v.invariant is Invariant.TXN_EPOCH]
    assert v.recent[0].seq > 1
    witness = minimal_witness(ens.header, v)
    assert witness is not None
    assert witness.seqs == (i + 1, j + 1)
    _assert_minimal_core(ens.header, v, witness.seqs)


def test_no_witness_for_facts_before_the_window() -> None:
    """EPOCH_ORDER judged at a crash whose write lies before the kept window: nothing inside it forces it."""
    path = TRACES / "EPOCH_ORDER" / "bad-current-before-accepted.ndjson"
    with open_trace(path) as reader:
        header = reader.header
    (v,) = check_file(path).violations
    late = Violation(v.invariant, v.seq, v.sid, v.message, v.witness, v.before, v.after, v.recent[-1:])
    assert minimal_witness(header, late) is None


def test_reports_show_the_minimal_witness(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(TRACES / "EPOCH_ORDER" / "bad-current-before-accepted.ndjson")
    assert main(["check", path]) == 1
    out = capsys.readouterr().out
    assert "minimal witness (z3 unsat core): seqs 2, 4, 5" in out
    assert "seq 4: epoch_write currentEpoch done on server 1: value=1" in out
    assert main(["check", path, "--format", "json"]) == 1
    (violation,) = json.loads(capsys.readouterr().out)["traces"][0]["violations"]
    assert violation["witness"] == [4, 5]
    assert violation["minimal_witness"] == [2, 4, 5]
    ok = str(TRACES / "EPOCH_ORDER" / "ok-accepted-first.ndjson")
    assert main(["check", ok, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["traces"][0]["violations"] == []
