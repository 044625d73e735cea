"""PING in broadcast (`Leader.lead`, `LearnerHandler.ping` / `synced`, `Learner.ping`): not traced, but it is
what keeps an idle learner's syncLimit read timeout and the leader's ack deadlines from expiring. The tests
make one direction of a connection silent for PINGs (the driver's connections never are) and look at the
state changes that follow; with the PINGs flowing, an idle ensemble stays as it is."""

from __future__ import annotations

from pathlib import Path

from zkfle.checker.reader import open_trace
from zkfle.impl.core.quorum import QuorumMaj
from zkfle.impl.drivers.simulator import SimConfig, Simulator, trace_header
from zkfle.impl.drivers.trace_writer import TraceWriter
from zkfle.spec import trace as tr

TICK_MS = 200
SYNC_LIMIT = 5
"""syncLimit*tickTime = 1 s: the learner's read timeout and the leader's ack deadline in broadcast."""


def _run(tmp_path: Path, silent: set[tuple[int, int]]) -> list[tr.StateChange]:
    """An idle 3-server ensemble (no writes: only PINGs cross the Zab connections in broadcast) for 6 s,
    with the PINGs from a to b lost for each (a, b) in `silent`; its `state` events."""
    config = SimConfig(QuorumMaj(frozenset({1, 2, 3})), seed=1, faults="none", duration_ms=6_000,
                       tick_time_ms=TICK_MS, sync_limit=SYNC_LIMIT)  # fmt: skip
    path = tmp_path / "t.ndjson"
    with TraceWriter(path, trace_header(config, {})) as writer:
        sim = Simulator(config, writer.write)
        ping = sim._ping

        def lossy_ping(a: int, b: int) -> None:
            if (a, b) not in silent:
                ping(a, b)

        sim._ping = lossy_ping  # type: ignore[method-assign]
        sim.run()
    with open_trace(path) as reader:
        return [e for e in reader if isinstance(e, tr.StateChange)]


def _broadcast_spells(states: list[tr.StateChange], sid: int) -> list[tuple[float, float | None]]:
    """(start, end) of each stretch server `sid` spent in broadcast (end None: still there at the end)."""
    spells: list[tuple[float, float | None]] = []
    start: float | None = None
    for e in states:
        if e.sid != sid:
            continue
        if e.phase == "broadcast":
            start = e.t
        elif start is not None:
            spells.append((start, e.t))
            start = None
    if start is not None:
        spells.append((start, None))
    return spells


def test_pings_keep_an_idle_ensemble_in_broadcast(tmp_path: Path) -> None:
    states = _run(tmp_path, set())
    for sid in (1, 2, 3):
        (spell,) = _broadcast_spells(states, sid)
        assert spell[1] is None and spell[0] < 1_000, (sid, spell)


def test_a_learner_that_hears_no_ping_times_out_after_sync_limit(tmp_path: Path) -> None:
    states = _run(tmp_path, {(3, 1)})
    spells = _broadcast_spells(states, 1)
    assert len(spells) >= 2  # timed out, looked for the leader again, rejoined, timed out again ...
    for start, end in spells[:-1]:
        assert end is not None and end - start >= SYNC_LIMIT * TICK_MS, (start, end)
    (follower,) = _broadcast_spells(states, 2)
    assert follower[1] is None  # server 2 hears its pings
    (leader,) = _broadcast_spells(states, 3)
    assert leader[1] is None  # a quorum (3 and 2) stays synced


def test_a_leader_that_hears_from_no_follower_gives_up(tmp_path: Path) -> None:
    states = _run(tmp_path, {(1, 3), (2, 3)})
    start, end = _broadcast_spells(states, 3)[0]
    # the followers stay connected and answer, but their answers are lost: after syncLimit ticks neither is
    # synced() and the leader's tick ends leading ("Not sufficient followers synced")
    assert end is not None and SYNC_LIMIT * TICK_MS <= end - start <= SYNC_LIMIT * TICK_MS + TICK_MS, (start, end)
    assert [e.state for e in states if e.sid == 3 and e.t == end] == ["LOOKING"]
