"""Speed and memory of the ensemble simulator (not a test).

1. Throughput: trace events written per second of one core (process time) for 5-server runs with faults
   (`--faults default`, client writes spread over the run), seeds 0..N-1, trace written to disk. Each seed
   runs `--repeat` times and keeps its fastest run (other load on the machine only ever slows a run down);
   the line reports the median over the seeds and the total.
2. Streaming: one run of at least 1,000,000 events written to disk, in a child process, reporting its peak
   resident memory (`resource.getrusage(RUSAGE_SELF).ru_maxrss`).

    .venv/bin/python bench/bench_simulator.py [--seeds N] [--big-events N]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from zkfle.impl.core.quorum import QuorumMaj
from zkfle.impl.drivers.simulator import SimConfig, Simulator, trace_header
from zkfle.impl.drivers.trace_writer import TraceWriter
from zkfle.impl.persistence.txnlog import forget_scans


def run_once(config: SimConfig, out: Path) -> tuple[int, float]:
    """(events, process seconds) of one run written to `out`, starting without cached log scans."""
    forget_scans()
    start = time.process_time()
    with TraceWriter(out, trace_header(config, {})) as writer:
        summary = Simulator(config, writer.write).run()
    return summary.events, time.process_time() - start


def throughput(seeds: int, repeat: int, directory: Path) -> None:
    events = 0
    seconds = 0.0
    rates: list[float] = []
    for seed in range(seeds):
        config = SimConfig(
            QuorumMaj(frozenset(range(1, 6))), seed=seed, faults="default", writes=300, duration_ms=60_000
        )
        runs = [run_once(config, directory / "t.ndjson") for _ in range(repeat)]
        n, s = min(runs, key=lambda run: run[1])
        events += n
        seconds += s
        rates.append(n / s)
    print(f"throughput: median {statistics.median(rates):,.0f} events/s over {seeds} seeds (best of {repeat} each); "
          f"{events} events in {seconds:.2f} s of one core = {events / seconds:,.0f} events/s "
          f"(5 servers, --faults default, 300 writes per 60 s)")  # fmt: skip


def big_child(events: int, out: str) -> None:
    config = SimConfig(
        QuorumMaj(frozenset(range(1, 6))),
        seed=1,
        faults="none",
        writes=events // 25,
        duration_ms=events * 2.0,
        max_events=events,
    )
    n, s = run_once(config, Path(out))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    size_mb = Path(out).stat().st_size / 2**20
    print(f"streaming: {n} events in {s:.1f} s ({n / s:,.0f} events/s), trace {size_mb:.0f} MiB, "
          f"peak RSS {peak_mb:.0f} MiB")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3, help="runs per seed; the fastest counts")
    parser.add_argument("--big-events", type=int, default=1_000_000)
    parser.add_argument("--child", metavar="OUT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        big_child(args.big_events, args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        throughput(args.seeds, args.repeat, Path(tmp))
        out = str(Path(tmp) / "big.ndjson.gz")
        cmd = [sys.executable, __file__, "--child", out, "--big-events", str(args.big_events)]
        subprocess.run(cmd, check=True)


if __name__ == "__main__":
    main()
