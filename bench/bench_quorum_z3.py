"""Benchmark: naive pseudo-boolean encoding of quorum intersection versus zkfle.checker.proofs.quorum.

Usage: .venv/bin/python bench/bench_quorum_z3.py [--timeout-ms 5000]

For 10, 25, 50, 100 and 255 voters, a majority system and a hierarchical one (groups of 5, every fourth
group with weight 0, weights 1-3) are asked "do two disjoint quorums exist?" (the answer is no). The naive
encoding has one Boolean per server and quorum, disjointness as Not(And(x, y)) and sizes as Sum(If(x, w, 0))
over Int, solved by z3's default solver; ours is `prove_intersection` (class counts, simplex, implied cuts).
A query that passes the timeout is reported as "timeout". Results are recorded in docs/proofs.md.
"""

from __future__ import annotations

import argparse
import time

import z3

from zkfle.checker.proofs.quorum import GroupForm, group_form, prove_intersection
from zkfle.checker.proofs.results import Proven
from zkfle.spec.quorum import Group, HierarchicalSystem, MajoritySystem, QuorumSystem
from zkfle.spec.zxid import ServerId

SIZES = (10, 25, 50, 100, 255)


def majority(n: int) -> MajoritySystem:
    return MajoritySystem(frozenset(ServerId(s) for s in range(1, n + 1)))


def hierarchical(n: int) -> HierarchicalSystem:
    groups = []
    for gid, start in enumerate(range(1, n + 1, 5), 1):
        members = tuple((ServerId(s), 0 if gid % 4 == 0 else 1 + s % 3) for s in range(start, min(n, start + 4) + 1))
        groups.append(Group(gid, members))
    return HierarchicalSystem(frozenset(ServerId(s) for s in range(1, n + 1)), tuple(groups))


def naive_disjoint_quorums(form: GroupForm, timeout_ms: int) -> str:
    """The encoding that stalls: Booleans, Not(And), Sum(If) over Int; z3's default solver."""
    solver = z3.Solver()
    solver.set("timeout", timeout_ms)
    for side in ("x", "y"):
        flags = []
        for index, members in enumerate(form.groups):
            terms = [z3.If(z3.Bool(f"{side}{sid}"), w, 0) for sid, w in members]
            flag = z3.Bool(f"{side}_group{index}")
            if form.totals[index] == 0 or not terms:
                solver.add(z3.Not(flag))
            else:
                solver.add(z3.Implies(flag, z3.Sum(terms) >= form.totals[index] // 2 + 1))
            flags.append(z3.If(flag, 1, 0))
        solver.add(z3.Sum(flags) >= form.needed)
    for members in form.groups:
        for sid, _ in members:
            solver.add(z3.Not(z3.And(z3.Bool(f"x{sid}"), z3.Bool(f"y{sid}"))))
    started = time.perf_counter()
    answer = solver.check()
    elapsed = time.perf_counter() - started
    return f"{elapsed:.3f} s ({answer})" if answer != z3.unknown else "timeout"


def ours(system: QuorumSystem, timeout_ms: int) -> str:
    result = prove_intersection(system, timeout_ms=timeout_ms)
    return f"{result.elapsed_s:.3f} s (proven)" if isinstance(result, Proven) else f"{type(result).__name__}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout-ms", type=int, default=5000, help="per-query z3 timeout (default 5000)")
    args = parser.parse_args()
    print(f"z3 {z3.get_version_string()}, per-query timeout {args.timeout_ms} ms")
    print(f"| {'system':<13} | {'voters':>6} | {'naive (Bool, Sum(If))':<22} | {'ours (counts, simplex)':<22} |")
    print(f"|{'-' * 15}|{'-' * 8}|{'-' * 24}|{'-' * 24}|")
    for name, build in (("majority", majority), ("hierarchical", hierarchical)):
        for n in SIZES:
            system = build(n)
            naive = naive_disjoint_quorums(group_form(system), args.timeout_ms)
            print(f"| {name:<13} | {n:>6} | {naive:<22} | {ours(system, args.timeout_ms):<22} |", flush=True)


if __name__ == "__main__":
    main()
