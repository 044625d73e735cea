"""Simulator runs for tests: write the trace with the real writer, read it back with the real reader."""

from __future__ import annotations

from pathlib import Path

from zkfle.checker.reader import open_trace
from zkfle.impl.drivers.simulator import SimConfig, Simulator, Summary, trace_header
from zkfle.impl.drivers.trace_writer import TraceWriter
from zkfle.spec import trace as tr


def simulate_to_file(config: SimConfig, path: Path) -> tuple[Summary, list[tr.Event], Simulator]:
    """Run `config` into the trace file `path`; the summary, the events as read back, and the simulator."""
    with TraceWriter(path, trace_header(config, {})) as writer:
        sim = Simulator(config, writer.write)
        summary = sim.run()
    with open_trace(path) as reader:
        events = list(reader)
    assert len(events) == summary.events
    return summary, events, sim
