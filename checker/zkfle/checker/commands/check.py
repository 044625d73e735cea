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
    from zkfle.checker.proofs.outcomes import MinimalWitness
    from zkfle.checker.reader import TraceReader
    from zkfle.checker.report import TraceResult
    from zkfle.checker.verdict.model import Verdict
    from zkfle.spec.invariants import Invariant
    from zkfle.spec.trace import TraceHeader

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
    parser.add_argument(
        "--partial",
        action="store_true",
        help="let integer values be null (unknown) and ask z3 whether some completion is consistent and whether "
        "some may violate an invariant (exit 1 for a 'may violate' too)",
    )
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


def check_path(path: str, skip_unknown: bool = False, partial: bool = False) -> TraceResult:
    """Check one trace file; bad input becomes the result's errors, never an exception.

    With `partial`, a trace that the full format rejects is read again with the partial schema (nulls are
    unknown values) and judged over its completions (`proofs.partial`); a trace the full format accepts is
    checked exactly as without it. The first violation of each invariant gets a minimal witness
    (`proofs.witness`) unless its window holds unknown values."""
    from zkfle.checker.report import InputError, TraceResult

    result, header = _check_full(path, skip_unknown)
    if partial and result.verdict is None and header is not None:
        from zkfle.checker.reader import TraceError, open_trace

        try:
            with open_trace(path, skip_unknown_kinds=skip_unknown) as reader:
                return _judge_partial(path, reader, result.command)
        except TraceError as exc:
            return TraceResult(
                path, result.events, None, (InputError(exc.line, exc.column, exc.message),), result.command
            )
    if result.verdict is not None and header is not None:
        from dataclasses import replace

        from zkfle.checker.proofs.outcomes import PartialOutcome

        outcome = PartialOutcome(0, result.verdict.ok, ()) if partial else None
        return replace(result, minimal=_minimal(header, result.verdict, None), partial=outcome)
    return result


def _check_full(path: str, skip_unknown: bool) -> tuple[TraceResult, TraceHeader | None]:
    """The streaming check; also the header when it was readable."""
    from zkfle.checker.reader import TraceError, open_trace
    from zkfle.checker.report import InputError, TraceResult
    from zkfle.checker.verdict import Replay
    from zkfle.checker.verdict.world import HeaderError

    command: str | None = None
    events = 0
    header: TraceHeader | None = None
    try:
        with open_trace(path, skip_unknown_kinds=skip_unknown) as reader:
            header = reader.header
            cmd = header.meta.get("cmd")
            command = cmd if isinstance(cmd, str) else None
            replay = Replay(header)
            try:
                replay.feed_all(reader)
            finally:
                events = reader.events_read
            return TraceResult(path, events, replay.verdict(), (), command), header
    except TraceError as exc:
        return TraceResult(path, events, None, (InputError(exc.line, exc.column, exc.message),), command), header
    except HeaderError as exc:
        return TraceResult(path, events, None, (InputError(1, 1, str(exc)),), command), None
    except OSError as exc:
        error = InputError(0, 0, f"cannot read: {exc.strerror or exc}")
        return TraceResult(path, events, None, (error,), command), None


def _judge_partial(path: str, reader: TraceReader, command: str | None) -> TraceResult:
    """A trace with unknowns: z3 over its completions (`proofs.partial`)."""
    from zkfle.checker.proofs import partial
    from zkfle.checker.report import TraceResult

    trace = partial.load(reader.header, reader.partial_events())
    verdict, outcome = partial.judge(trace)
    first_unknown = min((seq for seq, _ in trace.unknowns), default=None)
    minimal = _minimal(reader.header, verdict, first_unknown)
    return TraceResult(path, reader.events_read, verdict, (), command, minimal, outcome)


def _minimal(header: TraceHeader, verdict: Verdict, first_unknown: int | None) -> tuple[MinimalWitness | None, ...]:
    """The minimal witness of the first violation of each invariant (None for the others, and for a window
    that reaches an unknown value)."""
    if verdict.ok:
        return ()
    from zkfle.checker.proofs.witness import minimal_witness

    found: list[MinimalWitness | None] = []
    seen: set[Invariant] = set()
    for v in verdict.violations:
        known = first_unknown is None or all(e.seq < first_unknown for e in v.recent)
        found.append(minimal_witness(header, v) if known and v.invariant not in seen else None)
        seen.add(v.invariant)
    return tuple(found)


def _check_one(job: tuple[str, bool, bool]) -> TraceResult:
    return check_path(*job)


def run(args: argparse.Namespace) -> int:
    from zkfle.checker.report import exit_code, to_json, to_junit, to_text

    if args.jobs < 1:
        raise UsageError(f"--jobs must be at least 1, not {args.jobs}.")
    paths = expand(args.traces)
    jobs = [(p, bool(args.skip_unknown), bool(args.partial)) for p in paths]
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
