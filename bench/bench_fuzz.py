"""Benchmark of `zkfle fuzz` (not a test): time-to-bug per catalog entry, reproducer length, worker scaling.

    .venv/bin/python bench/bench_fuzz.py bugs [--bugs ZK_4643,ZK_4646] [--seeds 1,2,3,4,5] [--workers 2]
                                              [--budget 60] [--shrink-runs 150]
    .venv/bin/python bench/bench_fuzz.py scaling [--seconds 60]
    .venv/bin/python bench/bench_fuzz.py clean [--seconds 600]

`bugs`: for each entry and seed, `zkfle fuzz --inject ID --time-budget 60 --workers 2 --seed S` in a fresh
process; reports the median time to the first violating run (`found_after_s`) over the seeds whose first
violation breaks the entry's documented invariant (the others count as not found: their time is in
parentheses), the union of the invariants found, and the median length of the shrunk reproducer. Target (issue 6): every
entry found within 60 s on every seed, median <= 10 s with 2 workers.
`scaling`: runs/s of a no-injection campaign with --workers 1 and --workers 2 (target: ratio >= 1.7).
`clean`: a long no-injection campaign with 2 workers (target: no violation); prints runs and abstract states.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ZKFLE = str(REPO / ".venv" / "bin" / "zkfle")


def fuzz(args: list[str]) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as out:
        done = subprocess.run(
            [ZKFLE, "fuzz", *args, "--format", "json", "--quiet", "--out", out],
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode not in (0, 1) or not done.stdout.strip():
        raise SystemExit(f"zkfle fuzz {' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")
    report: dict[str, object] = json.loads(done.stdout)
    return report


def bugs(names: list[str], seeds: list[int], workers: int, budget: float, shrink_runs: int) -> None:
    from zkfle.impl.bugs import CATALOG, Bug

    chosen = [b for b in CATALOG if b in {Bug(n.upper()) for n in names}] if names else list(CATALOG)
    print(
        "| bug | documented invariant | found (seeds) | median time-to-bug s | times s | invariants found "
        "| median reproducer events |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for bug in chosen:
        documented = CATALOG[bug].invariant.value
        times: list[float] = []
        lengths: list[int] = []
        shown: list[str] = []
        found: set[str] = set()
        for seed in seeds:
            report = fuzz(["--inject", bug.value, "--time-budget", str(budget), "--workers", str(workers),
                           "--seed", str(seed), "--shrink-runs", str(shrink_runs)])  # fmt: skip
            violations = report["violations"]
            assert isinstance(violations, list)
            first = violations[0] if violations else None
            if first is not None:
                found.update(first["invariants"])
            if first is not None and documented in first["invariants"]:
                times.append(float(first["found_after_s"]))
                lengths.append(int(first["events"]))
                shown.append(f"{times[-1]:.1f}")
            else:  # not found, or first found breaking other invariants only: not a find of this entry
                times.append(float("inf"))
                shown.append("-" if first is None else f"({float(first['found_after_s']):.1f})")
        length = statistics.median(lengths) if lengths else "-"
        print(f"| `{bug.value}` | `{documented}` | {len(lengths)}/{len(seeds)} | {statistics.median(times):.1f} | "
              f"{', '.join(shown)} | {', '.join(sorted(found))} | {length} |")  # fmt: skip
        sys.stdout.flush()


def scaling(seconds: float) -> None:
    rates = {}
    for workers in (1, 2):
        report = fuzz(
            ["--time-budget", str(seconds), "--workers", str(workers), "--seed", "1", "--max-violations", "0"]
        )
        rates[workers] = float(report["runs"]) / float(report["elapsed_s"])  # type: ignore[arg-type]
        print(f"--workers {workers}: {report['runs']} runs in {report['elapsed_s']} s = {rates[workers]:.2f} runs/s, "
              f"{report['abstract_states']} abstract states, {len(report['violations'])} violations")  # type: ignore[arg-type]  # fmt: skip
    print(f"ratio workers 2 / workers 1: {rates[2] / rates[1]:.2f}")


def clean(seconds: float) -> None:
    report = fuzz(["--time-budget", str(seconds), "--workers", "2", "--seed", "7", "--max-violations", "0"])
    print(f"{report['runs']} runs, {report['batches']} batches, {report['elapsed_s']} s, "
          f"{report['abstract_states']} abstract states, violations: {len(report['violations'])}")  # type: ignore[arg-type]  # fmt: skip
    for v in report["violations"]:  # type: ignore[attr-defined]
        print(f"  {v['invariants']}: {v['command']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    b = sub.add_parser("bugs")
    b.add_argument("--bugs", default="")
    b.add_argument("--seeds", default="1,2,3,4,5")
    b.add_argument("--workers", type=int, default=2)
    b.add_argument("--budget", type=float, default=60.0)
    b.add_argument("--shrink-runs", type=int, default=150)
    s = sub.add_parser("scaling")
    s.add_argument("--seconds", type=float, default=60.0)
    c = sub.add_parser("clean")
    c.add_argument("--seconds", type=float, default=600.0)
    args = parser.parse_args()
    if args.what == "bugs":
        names = [n for n in args.bugs.split(",") if n]
        bugs(names, [int(s) for s in args.seeds.split(",")], args.workers, args.budget, args.shrink_runs)
    elif args.what == "scaling":
        scaling(args.seconds)
    else:
        clean(args.seconds)


if __name__ == "__main__":
    main()
