"""networkx graphs of a check: the per-server state machine and the happens-before order of events.

* `state_graph` is `spec.transitions.TRANSITIONS` as a multigraph (one edge per allowed move, labelled by
  the event kind), with the moves a trace made added: observed counts on allowed edges, and impossible
  moves as extra edges marked `allowed=False` (each of those is also a violation, see verdict/process.py).
* `happens_before` is Lamport's relation on a window of events: program order (consecutive events of one
  server) and message order (a `send` before the `recv` with its `mid`). `causal_past` cuts a violation's
  context down to the events that could have influenced it.

DOT is written here (`to_dot`), deterministically, because pydot / pygraphviz are not dependencies.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import networkx as nx

from zkfle.spec import transitions
from zkfle.spec.trace import Event, Recv, Send


def state_graph(
    moves: Iterable[tuple[transitions.Node, transitions.Step, transitions.Node, int]] = (),
) -> nx.MultiDiGraph[str]:
    """The state machine of `spec.transitions`, with the observed `moves` (from, step, to, count)."""
    graph: nx.MultiDiGraph[str] = nx.MultiDiGraph()
    for node in transitions.NODES:
        graph.add_node(str(node))
    for source, step, target in sorted(transitions.TRANSITIONS, key=lambda r: (str(r[0]), r[1].value, str(r[2]))):
        graph.add_edge(str(source), str(target), key=step.value, step=step.value, allowed=True, observed=0)
    for source, step, target, count in moves:
        a, b = str(source), str(target)
        if graph.has_edge(a, b, key=step.value):
            graph.edges[a, b, step.value]["observed"] = count
        else:
            graph.add_edge(a, b, key=step.value, step=step.value, allowed=False, observed=count)
    return graph


def happens_before(events: Sequence[Event]) -> nx.DiGraph[int]:
    """Program order and send -> recv over `events` (nodes are seqs; a `recv` whose send lies outside the
    window has no message edge)."""
    graph: nx.DiGraph[int] = nx.DiGraph()
    last: dict[int, int] = {}
    sends: dict[str, int] = {}
    for ev in events:
        graph.add_node(ev.seq, label=f"{ev.seq} {ev.__struct_config__.tag}", sid=ev.sid)
        if ev.sid is not None:
            if ev.sid in last:
                graph.add_edge(last[ev.sid], ev.seq, kind="program")
            last[ev.sid] = ev.seq
        if isinstance(ev, Send):
            sends[ev.mid] = ev.seq
        elif isinstance(ev, Recv) and ev.mid in sends:
            graph.add_edge(sends[ev.mid], ev.seq, kind="message")
    return graph


def causal_past(events: Sequence[Event], seq: int) -> list[int]:
    """The seqs in `events` that happen before (or are) `seq`, in order."""
    graph = happens_before(events)
    if seq not in graph:
        return []
    return sorted({seq, *nx.ancestors(graph, seq)})


def _quote(text: object) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(graph: nx.DiGraph[Any], name: str) -> str:
    """The graph as Graphviz DOT text: nodes and edges in sorted order, attributes as labels."""
    lines = [f"digraph {_quote(name)} {{", "  rankdir=LR;"]
    for node, attributes in sorted(graph.nodes(data=True), key=lambda item: str(item[0])):
        label = attributes.get("label", node)
        lines.append(f"  {_quote(node)} [label={_quote(label)}];")
    rows: list[tuple[str, str, str]] = []
    for source, target, data in graph.edges(data=True):
        if "step" in data:
            label = data["step"] + (f" x{data['observed']}" if data["observed"] else "")
            style = "" if data["allowed"] else ", color=red, style=bold"
            attrs = f"label={_quote(label)}{style}"
        else:
            attrs = "style=dashed" if data.get("kind") == "message" else ""
        rows.append((str(source), str(target), attrs))
    for source, target, attrs in sorted(rows):
        lines.append(f"  {_quote(source)} -> {_quote(target)}" + (f" [{attrs}]" if attrs else "") + ";")
    lines.append("}")
    return "\n".join(lines) + "\n"
