"""One fuzz run: a `Schedule` is a `zkfle simulate` command line, run in-process and judged by the verdict.

A schedule is kept as the simulator's flags, not as a private structure, so that what a campaign found is
exactly what a person can run: `Schedule.command()` is the reproducer, and `run_schedule` builds its
`SimConfig` through the same argument parser and the same `simulate.config_from_args` as the command. The
trace stays in memory (fuzz runs are short); a finding is written to disk by running the command itself,
so the saved trace and a replay of the printed command are the same bytes.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import shlex
from dataclasses import dataclass
from functools import cache
from typing import Final, TypeAlias

import msgspec

from zkfle.checker.commands import simulate
from zkfle.checker.fuzzing.abstract import AbstractStates
from zkfle.checker.verdict import Violation, check_events
from zkfle.impl.drivers.faultplan import Fault
from zkfle.impl.drivers.simulator import Simulator, trace_header
from zkfle.spec import trace as tr

_replace: Final = msgspec.structs.replace

History: TypeAlias = tuple[tuple[int, tuple[int, ...]], ...]
"""(sid, txns per epoch) of servers that start as members of an earlier ensemble (`--history`)."""


@dataclass(frozen=True, slots=True)
class Schedule:
    """The simulator's choices for one run: the ensemble, the seed (message delays, write times and the
    profile's random faults), the fault profile, the workload, the bound, the planned faults, the switches,
    and the disks the servers start from."""

    servers: int
    seed: int
    faults: str
    writes: int
    duration_ms: int
    plan: tuple[Fault, ...]
    inject: tuple[str, ...]
    history: History = ()
    autocreate: bool = True
    """`zookeeper.datadir.autocreate`; off (`--no-autocreate`) whenever the plan wipes a disk."""

    def argv(self, out: str) -> list[str]:
        """`zkfle simulate`'s arguments for this run, writing the trace to `out`."""
        args = ["--servers", str(self.servers), "--seed", str(self.seed), "--faults", self.faults]
        args += ["--writes", str(self.writes), "--duration-ms", str(self.duration_ms)]
        if not self.autocreate:
            args.append("--no-autocreate")
        for sid, counts in self.history:
            args += ["--history", f"{sid}={','.join(map(str, counts))}"]
        for name in self.inject:
            args += ["--inject", name]
        for fault in self.plan:
            args += ["--fault", str(fault)]
        return [*args, "--out", out]

    def command(self, out: str) -> str:
        """The reproducing command line."""
        return shlex.join(["zkfle", "simulate", *self.argv(out), "--quiet"])


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one run did: its size, the verdict's violations and the abstract states it visited."""

    events: int
    violations: tuple[Violation, ...]
    states: frozenset[int]


@cache
def simulate_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False)
    sub = parser.add_subparsers()
    simulate.register(sub)
    return parser


def _args(schedule: Schedule, out: str) -> argparse.Namespace:
    return simulate_parser().parse_args(["simulate", *schedule.argv(out), "--quiet"])


def run_schedule(schedule: Schedule) -> Outcome:
    """Simulate `schedule` in memory and check the trace."""
    config, _ = simulate.config_from_args(_args(schedule, "fuzz.ndjson"))
    events: list[tr.Event] = []
    append = events.append
    states = AbstractStates(config.verifier.voting_members() | config.verifier.observing_members())
    see = states.see

    def sink(event: tr.Event) -> None:
        stamped = _replace(event, seq=len(events) + 1, t=float(event.t))
        append(stamped)
        see(stamped)

    header = trace_header(config, {})  # before the run: the simulator writes to the disks it starts from
    Simulator(config, sink).run()
    verdict = check_events(header, events)
    return Outcome(len(events), tuple(verdict.violations), frozenset(states.visited))


def save_trace(schedule: Schedule, out: str) -> None:
    """Write the trace of `schedule` to `out` by running its `zkfle simulate` command in-process."""
    with contextlib.redirect_stdout(io.StringIO()):
        simulate.run(_args(schedule, out))
