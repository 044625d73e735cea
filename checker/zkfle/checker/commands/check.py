"""`zkfle check TRACE...`: verify traces against the invariant catalog (cli.md).

Exit codes: 0 every invariant holds in every trace, 1 a violation, 2 bad input (a trace that does not parse,
a file that cannot be read, a pattern that matches nothing). Traces are checked in input order; with
`--jobs N` by N processes, the results still reported in input order.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from zkfle.checker.errors import UsageError

if TYPE_CHECKING:
    from zkfle.checker.report import TraceResult

# The reader, the verdict, the reports and networkx (graphs) load inside the handlers: every command's module is
# imported to build `zkfle`'s parser, and `zkfle datadir` must not pay for networkx.

GRAPH_EVENTS = 2000
"""A happens-before graph of a trace without violations draws its first this many events."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "check",
        help="verify traces against the invariant catalog",
        description=(
            "Stream each trace (format v1, .ndjson or gzip) through the invariant catalog of docs/invariants.md "
            "and report every invariant that breaks: where, why, and the events that witness it. "
            "Exit 0: all hold; 1: a violation; 2: bad input."
        ),
    )
    parser.add_argument("traces", nargs="+", metavar="TRACE", help="trace files or glob patterns")
    parser.add_argument("--format", choices=("text", "json", "junit"), default="text")
    parser.add_argument("--jobs", type=int, default=1, metavar="N", help="check N traces at a time (processes)")
    parser.add_argument("--skip-unknown", action="store_true", help="skip events of unknown kinds instead of failing")
    parser.add_argument("--graph", metavar="FILE.dot", help="write a graph of the first trace as Graphviz DOT")
    parser.add_argument(
        "--graph-kind",
        choices=("state", "happens-before"),
        default="state",
        help="state: the per-server state machine with the moves observed; happens-before: the causal order "
        "around the first violation (or of the first events)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.set_defaults(handler=run)


def expand(patterns: list[str]) -> list[str]:
    """Paths as given; patterns with glob characters expanded (sorted); a pattern matching nothing is an error."""
    paths: list[str] = []
    for pattern in patterns:
        if glob.has_magic(pattern):
            matched = sorted(glob.glob(pattern, recursive=True))
            if not matched:
                raise UsageError(f"no trace matches {pattern!r}.")
            paths += matched
        else:
            paths.append(pattern)
    return paths


def check_path(path: str, skip_unknown: bool = False) -> TraceResult:
    """Check one trace file; bad input becomes the result's errors, never an exception."""
    from zkfle.checker.reader import TraceError, open_trace
    from zkfle.checker.report import InputError, TraceResult
    from zkfle.checker.verdict import Replay
    from zkfle.checker.verdict.world import HeaderError

    command: str | None = None
    events = 0
    try:
        with open_trace(path, skip_unknown_kinds=skip_unknown) as reader:
            cmd = reader.header.meta.get("cmd")
            command = cmd if isinstance(cmd, str) else None
            replay = Replay(reader.header)
            try:
                replay.feed_all(reader)
            finally:
                events = reader.events_read
            return TraceResult(path, events, replay.verdict(), (), command)
    except TraceError as exc:
        return TraceResult(path, events, None, (InputError(exc.line, exc.column, exc.message),), command)
    except HeaderError as exc:
        return TraceResult(path, events, None, (InputError(1, 1, str(exc)),), command)
    except OSError as exc:
        return TraceResult(path, events, None, (InputError(0, 0, f"cannot read: {exc.strerror or exc}"),), command)


def _check_one(job: tuple[str, bool]) -> TraceResult:
    return check_path(*job)


def run(args: argparse.Namespace) -> int:
    from zkfle.checker.report import exit_code, to_json, to_junit, to_text

    if args.jobs < 1:
        raise UsageError(f"--jobs must be at least 1, not {args.jobs}.")
    paths = expand(args.traces)
    jobs = [(p, bool(args.skip_unknown)) for p in paths]
    progress = not args.quiet and sys.stderr.isatty() and sys.stdout.isatty()
    results: list[TraceResult] = []
    if args.jobs == 1 or len(jobs) == 1:
        for job in jobs:
            results.append(_check_one(job))
            if progress:
                print(f"\rchecked {len(results)}/{len(jobs)}", end="", file=sys.stderr, flush=True)
    else:
        with ProcessPoolExecutor(max_workers=min(args.jobs, len(jobs))) as pool:
            for result in pool.map(_check_one, jobs):
                results.append(result)
                if progress:
                    print(f"\rchecked {len(results)}/{len(jobs)}", end="", file=sys.stderr, flush=True)
    if progress:
        print(file=sys.stderr)
    if args.graph:
        _write_graph(Path(args.graph), args.graph_kind, results[0], bool(args.skip_unknown))
    match args.format:
        case "json":
            sys.stdout.write(to_json(results))
        case "junit":
            sys.stdout.write(to_junit(results))
        case _:
            sys.stdout.write(to_text(results))
    return exit_code(results)


def _write_graph(target: Path, kind: str, result: TraceResult, skip_unknown: bool) -> None:
    from zkfle.checker import graphs
    from zkfle.checker.reader import TraceError, open_trace

    verdict = result.verdict
    if kind == "state":
        graph = graphs.to_dot(graphs.state_graph(verdict.moves if verdict else ()), "zkfle state machine")
    elif verdict is not None and verdict.violations:
        first = verdict.violations[0]
        keep = set(graphs.causal_past(first.recent, first.seq))
        window = [e for e in first.recent if e.seq in keep]
        graph = graphs.to_dot(graphs.happens_before(window), f"happens-before of seq {first.seq}")
    else:
        try:
            with open_trace(result.path, skip_unknown_kinds=skip_unknown) as reader:
                window = []
                for event in reader:
                    window.append(event)
                    if len(window) >= GRAPH_EVENTS:
                        break
        except (TraceError, OSError):
            window = []
        graph = graphs.to_dot(graphs.happens_before(window), f"happens-before of {result.path}")
    try:
        target.write_text(graph)
    except OSError as exc:
        raise UsageError(f"cannot write {os.fspath(target)}: {exc.strerror or exc}.") from None
