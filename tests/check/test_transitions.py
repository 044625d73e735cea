"""The state machine of `spec.transitions`, its networkx graph, and the checks against it."""

from __future__ import annotations

from types import ModuleType

import networkx as nx

from zkfle.checker import graphs
from zkfle.checker.verdict import check_events
from zkfle.spec import trace as tr
from zkfle.spec import transitions as t
from zkfle.spec.vocabulary import ServerState, ZabPhase
from zkfle.spec.zxid import Zxid


def test_every_node_is_reachable_from_down_and_can_crash() -> None:
    graph = graphs.state_graph()
    assert set(graph.nodes) == {str(n) for n in t.NODES}
    reachable = nx.descendants(graph, str(t.DOWN)) | {str(t.DOWN)}
    assert reachable == set(graph.nodes)
    for node in t.NODES:
        if node != t.DOWN:
            assert t.after(node, t.Step.CRASH) == t.DOWN


def test_phases_go_in_zab_order() -> None:
    discovery = t.Node(t.Life.UP, ServerState.FOLLOWING, ZabPhase.DISCOVERY)
    sync = t.Node(t.Life.UP, ServerState.FOLLOWING, ZabPhase.SYNCHRONIZATION)
    broadcast = t.Node(t.Life.UP, ServerState.FOLLOWING, ZabPhase.BROADCAST)
    assert t.after(discovery, t.Step.STATE, sync) == sync
    assert t.after(sync, t.Step.STATE, broadcast) == broadcast
    assert t.after(discovery, t.Step.STATE, broadcast) is None
    assert t.after(broadcast, t.Step.STATE, t.LOOKING) == t.LOOKING
    leading = t.Node(t.Life.UP, ServerState.LEADING, ZabPhase.BROADCAST)
    assert t.after(broadcast, t.Step.STATE, leading) is None
    assert t.after(t.DOWN, t.Step.RECOVERED) is None
    assert t.after(t.STARTING, t.Step.RECOVERED) == t.LOOKING


def test_observed_moves_are_drawn_and_impossible_ones_marked(ensemble: ModuleType) -> None:
    ens = ensemble.standard_run(3)
    verdict = check_events(ens.header, ens.events)
    graph = graphs.state_graph(verdict.moves)
    observed = {(a, b) for a, b, d in graph.edges(data=True) if d["observed"]}
    assert ("DOWN", "STARTING") in observed and ("FOLLOWING/broadcast", "LOOKING/election") in observed
    assert all(d["allowed"] for _, _, d in graph.edges(data=True))
    bad = [
        *ens.events,
        tr.StateChange(seq=len(ens.events) + 1, t=0.0, sid=ens.live()[0], state="OBSERVING", phase="broadcast"),
    ]
    verdict = check_events(ens.header, bad)
    assert [(v.invariant.value, v.seq) for v in verdict.violations] == [("FLE_CONFORMS", len(bad))]
    dot = graphs.to_dot(graphs.state_graph(verdict.moves), "m")
    assert '-> "OBSERVING/broadcast" [label="state x1", color=red, style=bold];' in dot


def test_happens_before_cuts_to_the_causal_past(ensemble: ModuleType) -> None:
    ens = ensemble.Ensemble(3)
    ens.boot(1, 2, 3)
    mid = ens.send(1, 2, tr.FollowerInfoPacket(Zxid(0)), deliver=False)
    ens.emit(tr.Snapshot, 3, zxid=0)
    recv = ens.emit(tr.Recv, 2, from_=1, mid=mid, msg=tr.FollowerInfoPacket(Zxid(0)))
    past = graphs.causal_past(ens.events, recv.seq)
    # boot, recovered, snapshot.0 of servers 1 (1-3) and 2 (4-6) come before the recv; server 3's events
    # (7-9, and its snapshot at 11) are concurrent with it
    assert past == [1, 2, 3, 4, 5, 6, 10, 12]
    assert graphs.causal_past(ens.events, 999) == []
