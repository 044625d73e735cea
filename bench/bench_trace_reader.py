"""Decode speed of the trace reader (a benchmark, not a test: pytest does not collect it).

    .venv/bin/python bench/bench_trace_reader.py [EVENTS]

Writes a synthetic trace of EVENTS events (default 1,000,000) with the writer, in a mix like a simulated
5-server run with writes (mostly notification and Zab packet send/recv pairs, then proposals, state changes,
txn_logged and committed), plain and gzip, and prints events/s (CPU time, best of 3) for reading each
back with `TraceReader`.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import zkfle.spec.trace as tr
from zkfle.checker.reader import open_trace
from zkfle.impl.drivers.trace_writer import TraceWriter
from zkfle.spec.zxid import Epoch, ServerId, Zxid, make_zxid

SIDS = [ServerId(s) for s in range(1, 6)]


def synthetic(count: int) -> Iterator[tr.Event]:
    """A deterministic stream of `count` events: rounds of election traffic, then broadcast traffic."""
    t = 0.0
    n = 0
    mid = 0
    while n < count:
        epoch = Epoch(n // 5000 + 1)
        for sid in SIDS:  # one election round: every server proposes and notifies everyone
            vote = tr.TraceVote(ServerId(5), Zxid(make_zxid(epoch - 1, 7)), Epoch(epoch - 1))
            yield tr.Proposal(0, t, sid, round=epoch, vote=vote)
            note = tr.Notification("LOOKING", vote.leader, vote.zxid, epoch, vote.peer_epoch, version=2)
            for peer in SIDS:
                if peer != sid:
                    mid += 1
                    yield tr.Send(0, t, sid, to=peer, mid=f"{sid}-{mid}", msg=note)
                    yield tr.Recv(0, t + 0.5, peer, from_=sid, mid=f"{sid}-{mid}", msg=note)
            yield tr.StateChange(0, t, sid, state="FOLLOWING" if sid != 5 else "LEADING", phase="broadcast")
            t += 1.0
        n += 5 * (1 + 8 + 1)
        for counter in range(1, 60):  # broadcast: PROPOSAL, txn_logged, ACK, COMMIT, committed per follower
            zxid = Zxid(make_zxid(epoch, counter))
            for peer in SIDS[:4]:
                mid += 1
                yield tr.Send(0, t, ServerId(5), to=peer, mid=f"5-{mid}", msg=tr.ProposalPacket(zxid))
                yield tr.Recv(0, t + 0.25, peer, from_=ServerId(5), mid=f"5-{mid}", msg=tr.ProposalPacket(zxid))
                yield tr.TxnLogged(0, t + 0.5, peer, zxid=zxid)
                yield tr.Committed(0, t + 0.75, peer, zxid=zxid)
            t += 1.0
            n += 16


def measure(path: Path, count: int) -> float:
    """Events per second of CPU time (process time: robust to other work on the machine), best of 3."""
    best = 0.0
    for _ in range(3):
        start = time.process_time()
        with open_trace(path) as reader:
            read = sum(1 for _ in reader)
        best = max(best, count / (time.process_time() - start))
        assert read == count, (read, count)
    return best


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    header = tr.TraceHeader(
        zkfle_trace=1,
        servers=[tr.ServerEntry(s, "participant") for s in SIDS],
        quorum=tr.MajorityQuorum(),
        source="bench",
        seed=0,
        meta={},
    )
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("bench.ndjson", "bench.ndjson.gz"):
            path = Path(tmp) / name
            start = time.perf_counter()
            with TraceWriter(path, header) as writer:
                for event, _ in zip(synthetic(count), range(count), strict=False):
                    writer.write(event)
            written = time.perf_counter() - start
            rate = measure(path, count)
            size = path.stat().st_size
            print(f"{name}: {count} events, {size / count:.0f} bytes/event on disk, write {count / written:,.0f}/s,")
            print(f"  read {rate:,.0f} events/s")


if __name__ == "__main__":
    main()
