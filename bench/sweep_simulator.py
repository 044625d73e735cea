"""Sweep of simulator seeds through the checker (not a test): does the corrected protocol ever get flagged?

    .venv/bin/python bench/sweep_simulator.py [--seeds 1-1000] [--servers 5] [--faults heavy] [--writes 40]
                                              [--observers 0] [--jobs 2] [--inject BUG ...]

Each seed runs `zkfle simulate --servers N --seed S --faults F --writes W` in memory (the fuzzer's
`run_schedule`, which builds the run through the command's own argument parser) and checks the trace with
the full catalog. Prints every flagged seed with its invariants and the reproducing command, then the totals.
Issue 5's target: thousands of `--faults heavy` seeds, no violation.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor

from zkfle.checker.fuzzing.schedule import Schedule, run_schedule


def _one(job: tuple[int, int, str, int, tuple[str, ...]]) -> tuple[int, int, list[str]]:
    seed, servers, faults, writes, inject = job
    outcome = run_schedule(Schedule(servers, seed, faults, writes, 60_000, (), inject))
    return seed, outcome.events, sorted({v.invariant.value for v in outcome.violations})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="1-1000")
    parser.add_argument("--servers", type=int, default=5)
    parser.add_argument("--faults", default="heavy")
    parser.add_argument("--writes", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--inject", action="append", default=[])
    args = parser.parse_args()
    first, _, last = args.seeds.partition("-")
    seeds = range(int(first), int(last or first) + 1)
    jobs = [(s, args.servers, args.faults, args.writes, tuple(args.inject)) for s in seeds]
    start = time.monotonic()
    flagged: Counter[str] = Counter()
    events = 0
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for seed, n, invariants in pool.map(_one, jobs, chunksize=4):
            events += n
            if invariants:
                flagged.update(invariants)
                inject = "".join(f" --inject {b}" for b in args.inject)
                command = (f"zkfle simulate --servers {args.servers} --seed {seed} --faults {args.faults} "
                           f"--writes {args.writes} --duration-ms 60000{inject}")  # fmt: skip
                print(f"seed {seed}: {', '.join(invariants)}  ({command})", flush=True)
    bad = sum(1 for _ in flagged.elements())
    print(f"{len(jobs)} seeds, {events} events, {time.monotonic() - start:.0f} s; flagged invariants: "
          f"{dict(flagged) or 'none'} ({bad} violations)")  # fmt: skip


if __name__ == "__main__":
    main()
