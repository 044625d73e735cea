"""Mutation tests: a correct scripted run checks clean; each targeted mutation of it gives exactly the
expected invariant(s) at the seq of the mutated event."""

from __future__ import annotations

import itertools
from types import ModuleType
from typing import Any

import msgspec
import pytest

from zkfle.checker.verdict import check_events
from zkfle.spec import trace as tr
from zkfle.spec.invariants import Invariant
from zkfle.spec.zxid import ServerId, Zxid, epoch_of, make_zxid

Events = list[tr.Event]


def _run(ensemble: ModuleType, n: int = 3) -> Any:
    return ensemble.standard_run(n)


def _found(header: tr.TraceHeader, events: Events) -> list[tuple[str, int]]:
    return sorted((v.invariant.value, v.seq) for v in check_events(header, events).violations)


def _index(events: Events, cls: type, sid: int | None = None, nth: int = 0, last: bool = False) -> int:
    hits = [i for i, e in enumerate(events) if type(e) is cls and (sid is None or e.sid == sid)]
    return hits[-1] if last else hits[nth]


@pytest.mark.parametrize("n", [3, 5])
def test_the_scripted_run_holds_everything(ensemble: ModuleType, n: int) -> None:
    ens = _run(ensemble, n)
    assert len(ens.events) > 200
    assert _found(ens.header, ens.events) == []


def _second_leader(events: Events) -> tuple[Events, list[str]]:
    i = _index(events, tr.Established)
    est = events[i]
    assert isinstance(est, tr.Established)
    other = next(s for s in est.quorum if s != est.sid)
    bogus = tr.Established(seq=0, t=est.t, sid=other, epoch=est.epoch, quorum=est.quorum)
    return [*events[: i + 1], bogus, *events[i + 1 :]], ["ONE_LEADER_PER_EPOCH"]


def _accepted_below_current(events: Events) -> tuple[Events, list[str]]:
    i = _index(events, tr.Recovered, last=True)
    rec = events[i]
    assert isinstance(rec, tr.Recovered) and rec.current_epoch > 0
    events = list(events)
    events[i] = msgspec.structs.replace(rec, accepted_epoch=rec.current_epoch - 1)
    return events, ["RECOVERY_FAITHFUL"]


def _unsent_message(events: Events) -> tuple[Events, list[str]]:
    i = _index(events, tr.Committed, last=True)
    e = events[i]
    assert e.sid is not None
    ghost = tr.Recv(seq=0, t=e.t, sid=e.sid, from_=ServerId(99), mid="ghost-1", msg=tr.CommitPacket(make_zxid(1, 1)))
    return [*events[:i], ghost, *events[i:]], ["MSG_INTEGRITY"]


def _event_from_crashed(events: Events) -> tuple[Events, list[str]]:
    i = _index(events, tr.Crash)
    crash = events[i]
    assert crash.sid is not None
    ghost = tr.Snapshot(seq=0, t=crash.t, sid=crash.sid, zxid=Zxid(0))
    return [*events[: i + 1], ghost, *events[i + 1 :]], ["CRASH_SILENCE"]


def _lower_vote(events: Events) -> tuple[Events, list[str]]:
    # the second proposal of some server in one round; insert a step back to the first one, then forward
    proposals = [(i, e) for i, e in enumerate(events) if isinstance(e, tr.Proposal)]
    for (_, first), (j, second) in itertools.pairwise(proposals):
        if first.sid == second.sid and first.round == second.round:
            back = msgspec.structs.replace(second, vote=first.vote)
            return [*events[: j + 1], back, second, *events[j + 1 :]], ["VOTE_MONOTONIC"]
    raise AssertionError("the run has no two proposals of one server in one round")


def _txn_from_wrong_epoch(events: Events) -> tuple[Events, list[str]]:
    i = _index(events, tr.Established, last=True)
    leader = events[i].sid
    j = _index(events[i:], tr.TxnLogged, sid=leader) + i
    txn = events[j]
    assert isinstance(txn, tr.TxnLogged)
    events = list(events)
    events[j] = msgspec.structs.replace(txn, zxid=make_zxid(epoch_of(txn.zxid) - 1, 7))
    return events, ["TXN_EPOCH"]


MUTATIONS = [
    _second_leader,
    _accepted_below_current,
    _unsent_message,
    _event_from_crashed,
    _lower_vote,
    _txn_from_wrong_epoch,
]


@pytest.mark.parametrize("mutate", MUTATIONS, ids=lambda f: f.__name__.strip("_"))
def test_mutation_is_caught_exactly(ensemble: ModuleType, mutate: Any) -> None:
    ens = _run(ensemble)
    original = ensemble.renumber(ens.events)
    mutated, expected = mutate(original)
    mutated = ensemble.renumber(mutated)
    changed = next(i for i, (a, b) in enumerate(zip(original, mutated, strict=False)) if a != b) + 1
    # an insertion shows first as the inserted event; a replacement is the replaced event
    assert _found(ens.header, mutated) == sorted((name, changed) for name in expected)


def test_decision_without_quorum(ensemble: ModuleType) -> None:
    ens = _run(ensemble)
    assert ens.leader is not None
    ens.crash(ens.leader)
    looker = ens.live()[0]
    ens.start_election(looker)
    s = ens.servers[looker]
    decide = ens.emit(tr.Decide, looker, state="LEADING", round=s.clock, vote=tr.TraceVote(looker, s.zxid, s.current))
    assert _found(ens.header, ens.events) == [("DECISION_QUORUM", decide.seq), ("FLE_CONFORMS", decide.seq)]


def test_violation_carries_state_and_recent_events(ensemble: ModuleType) -> None:
    ens = _run(ensemble)
    mutated, _ = _event_from_crashed(ensemble.renumber(ens.events))
    mutated = ensemble.renumber(mutated)
    (violation,) = check_events(ens.header, mutated).violations
    assert violation.invariant == Invariant.CRASH_SILENCE
    assert "DOWN" in violation.before and "DOWN" in violation.after
    assert violation.recent[-1].seq == violation.seq
    assert violation.witness == (violation.seq,)
