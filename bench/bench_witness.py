"""Benchmark of minimal witnesses (not a test): what z3's unsat cores add to `zkfle check` on a long trace
that breaks several invariants near its end.

    .venv/bin/python bench/bench_witness.py [--events 200000] [--servers 5] [--dir /tmp]

It writes a trace of the scripted ensemble of zkfle.checker.testing.ensemble (as bench/bench_check.py does),
then breaks it in its last cycles: a second leader for the last epoch (ONE_LEADER_PER_EPOCH), a leader's txn
of the previous epoch (TXN_EPOCH), a proposal that steps back in its round (VOTE_MONOTONIC) and a currentEpoch
written above acceptedEpoch before a crash (EPOCH_ORDER, and RECOVERY_FAITHFUL at the next start). It reports
the check alone (`check_file`) and `zkfle check`'s per-trace work with the minimal witnesses
(`commands.check.check_path`), each the best of three runs in this process, and each witness's own time.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import msgspec

from zkfle.checker.testing import ensemble
from zkfle.spec import trace as tr
from zkfle.spec.zxid import Epoch, ServerId, Zxid, epoch_of, make_zxid


def _events(servers: int, count: int) -> tuple[tr.TraceHeader, list[tr.Event]]:
    events: list[tr.Event] = []
    ens = ensemble.Ensemble(servers, sink=events.append)
    for written in ensemble.cycles(servers, 1 << 40, events.append):
        if written >= count:
            break
    return ens.header, events


def _last(events: list[tr.Event], cls: type, sid: int | None = None) -> int:
    return max(i for i, e in enumerate(events) if type(e) is cls and (sid is None or e.sid == sid))


def _established_then_txn(events: list[tr.Event]) -> tuple[int, int]:
    """The last `established` followed by a txn its leader logs, and that txn."""
    for i in range(len(events) - 1, -1, -1):
        est = events[i]
        if type(est) is tr.Established:
            for j in range(i + 1, len(events)):
                if type(events[j]) is tr.TxnLogged and events[j].sid == est.sid:
                    return i, j
    raise AssertionError("no leader logged a txn")


def _break(events: list[tr.Event]) -> list[tr.Event]:
    events = list(events)
    i, j = _established_then_txn(events)
    est, txn = events[i], events[j]
    assert isinstance(est, tr.Established) and isinstance(txn, tr.TxnLogged)
    events[j] = msgspec.structs.replace(txn, zxid=make_zxid(epoch_of(txn.zxid) - 1, 0xFFFF))
    other = next(s for s in est.quorum if s != est.sid)
    events.insert(i + 1, tr.Established(0, est.t, other, est.epoch, est.quorum))
    k = _last(events, tr.Proposal)
    proposal = events[k]
    assert isinstance(proposal, tr.Proposal)
    back = tr.Proposal(0, proposal.t, proposal.sid, proposal.round, tr.TraceVote(ServerId(0), Zxid(0), Epoch(0)))
    events.insert(k + 1, back)
    c = _last(events, tr.Crash)
    crash = events[c]
    assert isinstance(crash, tr.Crash)
    events.insert(c, tr.EpochWrite(0, crash.t, crash.sid, "currentEpoch", Epoch(1 << 20), "done"))
    return ensemble.renumber(events)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--servers", type=int, default=5)
    parser.add_argument("--dir", default="/tmp")
    args = parser.parse_args()
    from zkfle.checker.commands.check import check_path
    from zkfle.checker.verdict import check_file

    header, events = _events(args.servers, args.events)
    path = Path(args.dir) / f"zkfle-bench-witness-{args.servers}-{args.events}.ndjson"
    path.write_bytes(ensemble.encode(header, _break(events)))
    check_s = min(_timed(lambda: check_file(path)) for _ in range(3))
    full_s = min(_timed(lambda: check_path(str(path))) for _ in range(3))
    result = check_path(str(path))
    assert result.verdict is not None
    witnesses = [
        {"invariant": v.invariant.value, "seq": v.seq, "minimal": list(w.seqs), "s": round(w.elapsed_s, 3)}
        for v, w in zip(result.verdict.violations, result.minimal, strict=True)
        if w is not None
    ]
    row = {
        "events": result.events,
        "violations": len(result.verdict.violations),
        "check_s": round(check_s, 2),
        "check_with_witnesses_s": round(full_s, 2),
        "witnesses_s": round(full_s - check_s, 2),
        "witnesses": witnesses,
    }
    print(json.dumps(row))


def _timed(work: object) -> float:
    assert callable(work)
    start = time.process_time()
    work()
    return time.process_time() - start


if __name__ == "__main__":
    main()
