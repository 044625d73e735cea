"""Throughput of the FastLeaderElection core: notifications processed per second on one core.

A realistic mix, run once on `zkfle.impl.drivers.election_net` while recording every input of every
core: cold starts of 5 and 7 servers (distinct zxids and epochs so that proposals change), then a
re-election after the leader crashes. The recorded inputs are then replayed many times into fresh
cores, without the driver ("core"); the driver-included rate is printed too. Median of 5 runs.

    .venv/bin/python bench/bench_fle.py [--reps N]
"""

from __future__ import annotations

import argparse
import statistics
import time

from zkfle.impl.core.fle import FastLeaderElection, Notification, Step, TimerKind
from zkfle.impl.core.quorum import QuorumMaj
from zkfle.impl.drivers.election_net import ElectionNet
from zkfle.spec.vocabulary import ServerState

Input = tuple[str, object]


class Recorder(FastLeaderElection):
    """A core that logs its inputs, so that they can be replayed without the driver."""

    log: list[Input]

    def look_for_leader(self) -> Step:
        self.log.append(("look", None))
        return super().look_for_leader()

    def receive(self, n: Notification) -> Step:
        self.log.append(("recv", n))
        return super().receive(n)

    def timer_fired(self, kind: TimerKind, *, have_delivered: bool) -> Step:
        self.log.append(("timer", (kind, have_delivered)))
        return super().timer_fired(kind, have_delivered=have_delivered)

    def set_peer_state(self, state: ServerState) -> Step:
        self.log.append(("state", state))
        return super().set_peer_state(state)


Params = tuple[int, QuorumMaj, int, int]


def record(n: int) -> list[tuple[Params, list[Input]]]:
    """A cold start of `n` servers, then the leader dies and the rest elect again; every core's inputs."""
    verifier = QuorumMaj(frozenset(range(1, n + 1)))
    net = ElectionNet(verifier)
    params: dict[int, Params] = {}
    for sid in range(1, n + 1):
        params[sid] = (sid, verifier, (sid * 7) % n, sid % 2)
        core = Recorder(sid, verifier, last_logged_zxid=params[sid][2], current_epoch=params[sid][3])
        core.log = []
        net.servers[sid].core = core
    for sid in range(1, n + 1):
        net.start(sid)
    net.run(5000)
    leader = next(s for s in range(1, n + 1) if net._core(s).peer_state is ServerState.LEADING)
    for sid in range(1, n + 1):
        if sid != leader:
            net.looking(sid)
    net.crash(leader)
    net.run(5000)
    logs = []
    for sid in range(1, n + 1):
        recorded = net.servers[sid].core
        logs.append((params[sid], recorded.log if isinstance(recorded, Recorder) else []))
    return logs


def replay(logs: list[tuple[Params, list[Input]]]) -> int:
    """Feed the recorded inputs into fresh cores; returns the number of notifications processed."""
    count = 0
    for (sid, verifier, zxid, epoch), log in logs:
        core = FastLeaderElection(sid, verifier, last_logged_zxid=zxid, current_epoch=epoch)
        for kind, arg in log:
            if kind == "recv":
                assert isinstance(arg, Notification)
                core.receive(arg)
                count += 1
            elif kind == "look":
                core.look_for_leader()
            elif kind == "timer":
                assert isinstance(arg, tuple)
                core.timer_fired(arg[0], have_delivered=arg[1])
            else:
                assert isinstance(arg, ServerState)
                core.set_peer_state(arg)
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=300)
    args = parser.parse_args()
    logs = record(5) + record(7)
    core_rates, driver_rates = [], []
    count = 0
    for _ in range(5):
        start = time.perf_counter()
        count = sum(replay(logs) for _ in range(args.reps))
        core_rates.append(count / (time.perf_counter() - start))
        start = time.perf_counter()
        delivered = 0
        for _ in range(args.reps // 10):
            for n in (5, 7):
                net = ElectionNet(QuorumMaj(frozenset(range(1, n + 1))))
                for sid in range(1, n + 1):
                    net.start(sid)
                net.run(5000)
                delivered += net.delivered
        driver_rates.append(delivered / (time.perf_counter() - start))
    print(f"core: {statistics.median(core_rates):,.0f} notifications/s (median of 5; {count} per run)")
    print(f"driver included (cold starts only): {statistics.median(driver_rates):,.0f} notifications/s")


if __name__ == "__main__":
    main()
