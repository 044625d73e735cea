"""`zkfle demo`: the main job on embedded defaults (cli.md). Exit 0 all invariants hold, 1 a violation.

It is `zkfle simulate` of a 5-server ensemble with the default fault profile (crashes, crashes inside disk
writes, partitions, broken connections) and client writes, then `zkfle check` of its trace, with every
output in one directory: the trace, the check's report as text and JSON, and each server's final data dir
in ZooKeeper's format (open one with `zkfle datadir`, or start real ZooKeeper on it).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os

from zkfle.checker.errors import UsageError

DEFAULT_SEED = 7


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="simulate a 5-server ensemble through faults, check the trace, write trace and report, print a summary",
        description=(
            "The main job on embedded defaults: simulate 5 ZooKeeper 3.8 servers through crashes, partitions and "
            "writes, check the trace against the invariant catalog, and write the trace, the report and the "
            "servers' data dirs into --out. Exit 0: every invariant holds; 1: a violation."
        ),
    )
    parser.add_argument("--out", default="zkfle-demo", metavar="DIR", help="output directory (default zkfle-demo)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"the run's seed (default {DEFAULT_SEED})")
    parser.add_argument("--servers", type=int, default=5, metavar="N", help="ensemble size (default 5)")
    parser.add_argument("--writes", type=int, default=40, metavar="N", help="client writes (default 40)")
    parser.add_argument("--faults", choices=("none", "default", "heavy"), default="default")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from zkfle.checker.commands import simulate
    from zkfle.checker.commands.check import check_path
    from zkfle.checker.fuzzing.schedule import simulate_parser
    from zkfle.checker.report import exit_code, to_json, to_text

    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out {args.out}: {exc.strerror or exc}.") from None
    trace = os.path.join(args.out, "trace.ndjson")
    argv = ["simulate", "--servers", str(args.servers), "--seed", str(args.seed), "--faults", args.faults]
    argv += ["--writes", str(args.writes), "--duration-ms", "60000", "--out", trace]
    argv += ["--write-data-dirs", os.path.join(args.out, "data")]
    if args.quiet:
        argv.append("--quiet")
    summary = io.StringIO()
    with contextlib.redirect_stdout(summary):
        simulate.run(simulate_parser().parse_args(argv))
    result = check_path(trace)
    report = to_text([result])
    with open(os.path.join(args.out, "report.txt"), "w", encoding="utf-8") as f:
        f.write(report)
    with open(os.path.join(args.out, "report.json"), "w", encoding="utf-8") as f:
        f.write(to_json([result]))
    print(summary.getvalue().rstrip())
    print()
    print(report.rstrip())
    print()
    print(f"written to {args.out}/: trace.ndjson, report.txt, report.json, data/zk1..zk{args.servers} (data dirs)")
    print(f"next: zkfle datadir {args.out}/data/zk1   |   zkfle check {trace} --graph {args.out}/states.dot")
    return exit_code([result])
