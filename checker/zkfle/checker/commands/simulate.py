"""`zkfle simulate`: run the deterministic ensemble simulator and write a trace (format v1).

Exit 0 (the run itself does not judge); bad flags or inputs exit 2 (cli.md). The seed is printed and the
header's `meta.cmd` holds the exact command that reproduces the trace byte for byte.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shlex
import sys
from collections.abc import Callable, Iterator
from typing import Any

from zkfle.checker.errors import UsageError
from zkfle.impl.bugs import PROFILES, Bug, UnknownBugError, parse_bugs
from zkfle.impl.config import parse_config, parse_properties
from zkfle.impl.core.quorum import ConfigError, QuorumMaj
from zkfle.impl.drivers.faultplan import Fault, FaultSpecError, parse_fault
from zkfle.impl.drivers.simulator import (
    DATA_DIR,
    SimConfig,
    Simulator,
    Summary,
    read_data_dir,
    trace_header,
    write_data_dir,
)
from zkfle.impl.drivers.simulator import (
    PROFILES as FAULT_PROFILES,
)
from zkfle.impl.drivers.trace_writer import TraceWriter
from zkfle.impl.persistence.fs import MemoryFileSystem
from zkfle.spec import trace as tr


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="run the deterministic simulator and write a trace (format v1)",
        description=(
            "Simulate a ZooKeeper 3.8 ensemble (start-up, recovery, FastLeaderElection, Zab epoch establishment "
            "and broadcast) on a virtual network and virtual disks, with seeded faults, and write the trace. "
            "Same seed and flags: the same trace, byte for byte. Exit 0."
        ),
    )
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--servers", type=int, metavar="N", help="participants 1..N (default 3)")
    who.add_argument("--config", metavar="ZOO_CFG", help="a zoo.cfg: server.N lines, tickTime, initLimit, syncLimit")
    parser.add_argument(
        "--observers", type=int, default=0, metavar="M", help="with --servers N: observers N+1..N+M (default 0)"
    )
    parser.add_argument("--seed", type=int, help="the run's seed (default: a random one, printed)")
    parser.add_argument("--faults", choices=sorted(FAULT_PROFILES), default="default", help="fault profile")
    parser.add_argument("--writes", type=int, default=100, metavar="N", help="client writes spread over the run")
    parser.add_argument("--max-events", type=int, default=1_000_000, metavar="N", help="stop after N trace events")
    parser.add_argument("--duration-ms", type=float, default=60_000.0, metavar="MS", help="stop at MS virtual ms")
    parser.add_argument(
        "--data-dir",
        action="append",
        default=[],
        metavar="SID=DIR",
        help="server SID starts from a copy of the ZooKeeper data dir DIR (read only; repeatable)",
    )
    parser.add_argument(
        "--inject", action="append", default=[], metavar="BUG", help="turn a fix off again (repeatable; zkfle bugs)"
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="a planned fault, e.g. 'disk-crash 2 after 1 when 2 recv:NEWLEADER' (repeatable; docs/simulator.md)",
    )
    parser.add_argument(
        "--no-autocreate",
        action="store_true",
        help="zookeeper.db.autocreate=false: servers start with the initialize file; a wiped dir restores to zxid -1",
    )
    parser.add_argument("--as", dest="as_profile", choices=sorted(PROFILES), help="a named set of --inject switches")
    parser.add_argument("--out", default="trace.ndjson", metavar="FILE", help="the trace (.ndjson or .ndjson.gz)")
    parser.add_argument(
        "--history",
        action="append",
        default=[],
        metavar="SID=N[,N...]",
        help="server SID starts as a member of an earlier ensemble: a durable snapshot, N txns of epoch 1, then of "
        "epoch 2, ..., epoch files at the last epoch (repeatable)",
    )
    parser.add_argument("--write-data-dirs", metavar="DIR", help="write each server's final disk to DIR/zkSID")
    parser.add_argument("--tick-time", type=int, default=None, metavar="MS", help="tickTime (default 2000)")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="the summary's format")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run)


def _verifier_and_timing(args: argparse.Namespace) -> tuple[QuorumMaj | Any, int, int, int, bytes]:
    if args.config is None:
        n = 3 if args.servers is None else args.servers
        if n < 1:
            raise UsageError(f"--servers must be at least 1, not {n}.")
        if args.observers < 0:
            raise UsageError(f"--observers must not be negative, not {args.observers}.")
        observers = frozenset(range(n + 1, n + args.observers + 1))
        return QuorumMaj(frozenset(range(1, n + 1)), observers), args.tick_time or 2000, 10, 5, b""
    if args.observers:
        raise UsageError(
            "--observers goes with --servers; with --config, mark observers in zoo.cfg (server.N=...:observer)."
        )
    try:
        with open(args.config, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise UsageError(f"cannot read {args.config}: {exc.strerror or exc}.") from None
    try:
        # parse as the first listed server would (its myid), so that the distributed-mode checks apply
        sids = sorted(k.strip()[len("server.") :] for k in parse_properties(text) if k.strip().startswith("server."))
        config = parse_config(text, sids[0] if sids else None)
    except ConfigError as exc:
        raise UsageError(f"{args.config}: {exc}.") from None
    if not config.verifier.voting_members():
        raise UsageError(f"{args.config}: no server.N lines.")
    tick = args.tick_time or config.tick_time_ms
    return config.verifier, tick, config.init_limit, config.sync_limit, config.config_string().encode()


def _server_spec(flag: str, spec: str, sids: frozenset[int], usage: str) -> tuple[int, str]:
    """`SID=VALUE` of `--data-dir` / `--history`: the sid (one of `sids`) and the value; `usage` on bad form."""
    sid_text, sep, value = spec.partition("=")
    if not sep or not sid_text.strip().isdigit() or not value:
        raise UsageError(f"{flag} {spec!r}: expected {usage}.")
    sid = int(sid_text)
    if sid not in sids:
        raise UsageError(f"{flag} {spec!r}: server {sid} is not in the ensemble {sorted(sids)}.")
    return sid, value


def _disks(specs: list[str], sids: frozenset[int]) -> dict[int, MemoryFileSystem]:
    disks: dict[int, MemoryFileSystem] = {}
    for spec in specs:
        sid, path = _server_spec("--data-dir", spec, sids, "SID=DIR, e.g. --data-dir 1=/var/lib/zookeeper")
        if not os.path.isdir(path):
            raise UsageError(f"--data-dir {spec!r}: {path} is not a directory.")
        try:
            disks[sid] = read_data_dir(path)
        except OSError as exc:
            raise UsageError(f"--data-dir {spec!r}: cannot read {exc.filename or path}: {exc.strerror}.") from None
    return disks


def _histories(specs: list[str], sids: frozenset[int], taken: set[int]) -> dict[int, MemoryFileSystem]:
    """`--history SID=N,...`: generated data dirs (`testing.datadirs`), as servers of an earlier ensemble hold."""
    from zkfle.checker.testing.datadirs import write_data_dir as generate

    disks: dict[int, MemoryFileSystem] = {}
    usage = "SID=N[,N...], e.g. --history 1=10,5"
    for spec in specs:
        sid, counts = _server_spec("--history", spec, sids, usage)
        parts = counts.split(",")
        if not all(p.strip().isdigit() for p in parts):
            raise UsageError(f"--history {spec!r}: expected {usage}.")
        if sid in taken or sid in disks:
            raise UsageError(f"--history {spec!r}: server {sid} already has a data dir.")
        disk = MemoryFileSystem()
        generate(disk, DATA_DIR, txns_per_epoch=tuple(int(p) for p in parts), myid=sid)
        disks[sid] = disk
    return disks


def _plan(specs: list[str], sids: frozenset[int]) -> tuple[Fault, ...]:
    faults: list[Fault] = []
    for spec in specs:
        try:
            fault = parse_fault(spec)
        except FaultSpecError as exc:
            raise UsageError(f"--fault: {exc}.") from None
        unknown = sorted(fault.servers() - sids)
        if unknown:
            raise UsageError(f"--fault {spec!r}: server {unknown[0]} is not in the ensemble {sorted(sids)}.")
        faults.append(fault)
    return tuple(faults)


def command_line(args: argparse.Namespace, seed: int) -> str:
    """The exact command that reproduces this run's trace."""
    parts = ["zkfle", "simulate"]
    parts += ["--config", args.config] if args.config else ["--servers", str(args.servers or 3)]
    if args.observers:
        parts += ["--observers", str(args.observers)]
    parts += ["--seed", str(seed), "--faults", args.faults, "--writes", str(args.writes)]
    parts += ["--max-events", str(args.max_events), "--duration-ms", f"{args.duration_ms:g}"]
    if args.tick_time:
        parts += ["--tick-time", str(args.tick_time)]
    for spec in args.data_dir:
        parts += ["--data-dir", spec]
    for spec in args.history:
        parts += ["--history", spec]
    if args.as_profile:
        parts += ["--as", args.as_profile]
    for name in args.inject:
        parts += ["--inject", name]
    for spec in args.fault:
        parts += ["--fault", spec]
    if args.no_autocreate:
        parts.append("--no-autocreate")
    parts += ["--out", args.out]
    return shlex.join(parts)


def config_from_args(args: argparse.Namespace) -> tuple[SimConfig, dict[str, object]]:
    """The run the flags describe, and the header's `meta` (with the reproducing command); `UsageError`
    for bad flags. `zkfle fuzz` builds its runs through this too, so a reproducer means what it ran."""
    if not args.out.endswith((".ndjson", ".ndjson.gz")):
        raise UsageError(f"--out {args.out}: the trace file must end in .ndjson or .ndjson.gz.")
    for name, value in (("--writes", args.writes), ("--max-events", args.max_events)):
        if value < 0:
            raise UsageError(f"{name} must not be negative.")
    if args.duration_ms <= 0:
        raise UsageError("--duration-ms must be positive.")
    try:
        bugs = parse_bugs(args.inject)
    except UnknownBugError as exc:
        raise UsageError(f"--inject: {exc}.") from None
    if args.as_profile:
        bugs |= PROFILES[args.as_profile]
    verifier, tick, init_limit, sync_limit, config_bytes = _verifier_and_timing(args)
    disks = _disks(args.data_dir, verifier.voting_members() | verifier.observing_members())
    disks |= _histories(args.history, verifier.voting_members() | verifier.observing_members(), set(disks))
    plan = _plan(args.fault, verifier.voting_members() | verifier.observing_members())
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    config = SimConfig(
        verifier=verifier,
        seed=seed,
        faults=args.faults,
        writes=args.writes,
        max_events=args.max_events,
        duration_ms=args.duration_ms,
        tick_time_ms=tick,
        init_limit=init_limit,
        sync_limit=sync_limit,
        bugs=bugs,
        config=config_bytes,
        disks=disks,
        plan=plan,
        db_autocreate=not args.no_autocreate,
    )
    meta: dict[str, object] = {
        "cmd": command_line(args, seed),
        "faults": args.faults,
        "bugs": sorted(b.value for b in bugs),
    }
    return config, meta


def run(args: argparse.Namespace) -> int:
    config, meta = config_from_args(args)
    bugs = config.bugs
    show_progress = sys.stdout.isatty() and not args.quiet and args.format == "text"
    try:
        writer = TraceWriter(args.out, trace_header(config, meta))
    except OSError as exc:
        raise UsageError(f"cannot write {args.out}: {exc.strerror or exc}.") from None
    with writer, _progress(show_progress, args.max_events) as on_progress:
        simulator = Simulator(config, writer.write if on_progress is None else _ticking(writer, on_progress))
        summary = simulator.run()
    if args.write_data_dirs:
        for sid, server in sorted(simulator.servers.items()):
            write_data_dir(server.disk, os.path.join(args.write_data_dirs, f"zk{sid}"))
    if args.format == "json":
        print(json.dumps(summary_json(summary, args.out, meta["cmd"], bugs), indent=2))
    else:
        print("\n".join(summary_text(summary, args.out, str(meta["cmd"]))))
    return 0


def _ticking(writer: TraceWriter, on_progress: Callable[[int], None]) -> Callable[[tr.Event], object]:
    def sink(event: tr.Event) -> object:
        written = writer.write(event)
        if writer.events_written % 2000 == 0:
            on_progress(writer.events_written)
        return written

    return sink


@contextlib.contextmanager
def _progress(show: bool, total: int) -> Iterator[Callable[[int], None] | None]:
    """A rich progress bar over the events written (on a terminal only), as a `tick(done)` function."""
    if not show:
        yield None
        return
    from rich.progress import Progress

    with Progress(transient=True) as progress:
        task = progress.add_task("simulating", total=total)
        yield lambda done: progress.update(task, completed=done)


def summary_json(summary: Summary, out: str, cmd: object, bugs: frozenset[Bug]) -> dict[str, Any]:
    return {
        "trace": out,
        "seed": summary.seed,
        "command": cmd,
        "bugs": sorted(b.value for b in bugs),
        "events": summary.events,
        "end_time_ms": summary.end_time_ms,
        "end_reason": summary.end_reason,
        "elections": summary.elections,
        "max_round": summary.max_round,
        "epochs": [{"epoch": e, "leader": leader} for e, leader in summary.epochs],
        "commits": summary.commits,
        "crashes": summary.crashes,
        "writes_done": summary.writes_done,
        "writes_skipped": summary.writes_skipped,
        "halted": {str(sid): reason for sid, reason in summary.halted.items()},
        "progress": summary.progress,
    }


def summary_text(summary: Summary, out: str, cmd: str) -> list[str]:
    epochs = ", ".join(f"{e} (leader {leader})" for e, leader in summary.epochs) or "none"
    lines = [
        f"seed {summary.seed}: {summary.events} events in {summary.end_time_ms:.0f} virtual ms ({summary.end_reason})",
        f"trace: {out}",
        f"reproduce: {cmd}",
        f"elections: {summary.elections} started, highest round {summary.max_round}",
        f"epochs established: {epochs}",
        f"commits applied: {summary.commits}; writes served {summary.writes_done}, not served {summary.writes_skipped}",
        f"crashes: {summary.crashes}",
    ]
    for sid, reason in summary.halted.items():
        lines.append(f"server {sid} exited and stays down: {reason or '(no message)'}")
    lines.append(f"progress: {summary.progress}")
    return lines
